"""Coupons: templates (merchant-level terms), drops in a room on the flash-sale
reservation machinery (a drop is a sale of kind `coupon`, a claim is a grab), pass-phrase
drops, the signed coupon hand-off and its redemption.

- `store.py`, `memory_store.py`, `redis_store.py`: the templates and what drops reserved of
  their totals (the drops and coupons themselves live in the sale store);
- `ticket.py`: the signed coupon ticket the mini-program's coupon page carries;
- `service.py`: CouponService, the feature (node.coupons).
"""
