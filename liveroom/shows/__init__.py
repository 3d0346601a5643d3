"""Shows: a room's life (scheduled, live, ended), series of episodes, "remind me", group
messages to WeCom before and during the show, the stream on the page, and the replay.

- `model.py`: the show and series records, and how merchant input becomes them;
- `store.py`, `memory_store.py`, `redis_store.py`: where they live, on both engines;
- `notices.py`: the group messages, as due jobs (liveroom/jobs) of kind `wecom`;
- `service.py`: the feature (ShowService) that ties it together;
- `routes.py`: the public page data and replay, and the merchant's calls.
The decisions are in liveroom/rules/show.py; the WeCom client in liveroom/integrations.
"""
