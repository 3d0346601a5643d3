// Coupon terms in words, for the viewer page and the host panel alike: a viewer decides
// on "¥30 off when you spend ¥200", not on {kind: "threshold", spend_fen: 20000}.

export const yuan = (fen) => {
  const y = fen / 100;
  return `¥${Number.isInteger(y) ? y : y.toFixed(2)}`;
};

function day(ms) {
  return new Date(ms).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** What the coupon takes off: "¥20 off", "15% off (at most ¥30)", "¥30 off when you spend ¥200". */
export function benefit(c) {
  const over = c.min_spend_fen > 0 ? ` on orders of ${yuan(c.min_spend_fen)}+` : "";
  switch (c.kind) {
    case "amount_off":
      return `${yuan(c.amount_fen)} off${over}`;
    case "percent_off": {
      const cap = c.max_off_fen ? ` (at most ${yuan(c.max_off_fen)})` : "";
      return `${c.percent}% off${over}${cap}`;
    }
    case "threshold":
      return `${yuan(c.amount_fen)} off when you spend ${yuan(c.spend_fen)}`;
    case "gift":
      return `a free ${c.gift_title || c.gift_sku} when you spend ${yuan(c.spend_fen)}`;
    default:
      return c.title || "coupon";
  }
}

/** Which products, and for how long: "on 2 products · valid 7 days from claiming". */
export function conditions(c) {
  const out = [];
  const skus = c.skus || [];
  if (skus.length === 1) out.push(`on ${skus[0]} only`);
  else if (skus.length > 1) out.push(`on ${skus.length} products`);
  if (c.valid_until) out.push(`use by ${day(c.valid_until)}`);
  else if (c.valid_days) out.push(`valid ${c.valid_days} day${c.valid_days > 1 ? "s" : ""} from claiming`);
  if (c.valid_from && c.valid_from > Date.now()) out.push(`from ${day(c.valid_from)}`);
  if (c.member_tiers?.length) out.push(`for ${c.member_tiers.join(" / ")} members`);
  return out.join(" · ");
}

/** The whole terms in one line. */
export function terms(c) {
  return [benefit(c), conditions(c)].filter(Boolean).join(" · ");
}

/** A `purchase` event as the room reads it: "A** and 3 others just bought Longjing 250g". */
export function purchaseWords(e) {
  const who = `${e.nick || "Someone"}${e.others > 0 ? ` and ${e.others} other${e.others > 1 ? "s" : ""}` : ""}`;
  return `${who} just bought ${e.qty > 1 ? `${e.qty} × ` : ""}${e.title}`;
}

/** Refusals of a claim, in words a viewer understands. */
export const REFUSED = {
  sold_out: "All claimed! Watch for the next drop",
  over_limit: "You already have this coupon",
  not_started: "This drop has not started yet",
  members_only: "Members only for now: everyone else can claim at the start",
  ended: "This drop has ended",
  login_required: "Open the show from the mini-program to claim coupons",
  no_such_drop: "This drop is gone",
  tier_not_allowed: "This coupon is for other membership tiers",
  phrase_only: "Comment the phrase to get this coupon",
  unavailable: "Busy right now: please try again in a moment",
};
