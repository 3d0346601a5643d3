"""Data that feeds the next show: share codes and attribution, live figures, the show
report, exports, and viewer segments across shows.

- `service.py`: the feature (attribution at the door, live folds, the host's figures,
  report and rebuild);
- `store.py`, `memory_store.py`, `redis_store.py`: share codes, first touches, figures,
  profiles; one contract (tests/analytics/test_store_contract.py);
- `report.py`: the report and the live figures, read off the figures (pure);
- `export.py`: a room's commerce stream as NDJSON or CSV, and a segment as CSV, streamed;
- `routes.py`: the merchant API (signed) and the host's report page data (host token);
- `cli.py`: `liveroom analytics rebuild`.

The rules (what counts, for whom, which segment) are pure and live in
liveroom/rules/attribution.py and liveroom/rules/segments.py.
"""
