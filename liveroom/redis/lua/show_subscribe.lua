-- show_subscribe: record a viewer's "remind me" once.
-- KEYS[1] subscribers: hash uid -> JSON of the subscription
-- KEYS[2] order: list of uids in subscription order
-- ARGV[1] uid: the viewer
-- ARGV[2] info: JSON {ts, nick, tier, src}
-- Returns: 1 when new, 0 when the viewer had subscribed before

if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[1])
return 1
