package quota

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// membersScript registers this replica until now+ttl (on Redis's clock),
// drops replicas that stopped renewing, and returns how many are alive.
var membersScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('ZCARD', KEYS[1])
`)

// share is how many replicas split the budget when Redis is unavailable:
// the count last seen alive in Redis, never below Options.Replicas.
func (r *Redis) share() int {
	return int(max(r.replicas.Load(), int64(r.opts.Replicas)))
}

// heartbeat keeps this replica registered so every replica knows, should
// Redis become unreachable, what share of each limit to enforce on its own
// ("local" fallback). It renews every LeaseTTL/3 until Close.
func (r *Redis) heartbeat() {
	defer r.bg.Done()
	tick := time.NewTicker(r.opts.LeaseTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = r.client.ZRem(ctx, r.prefix+"replicas", r.leases.instance).Err()
			cancel()
			return
		case <-tick.C:
			r.renewMembership()
		}
	}
}

func (r *Redis) renewMembership() {
	ctx, cancel := context.WithTimeout(context.Background(), min(r.opts.ProbeInterval, r.opts.LeaseTTL/3))
	defer cancel()
	n, err := membersScript.Run(ctx, r.client, []string{r.prefix + "replicas"},
		r.leases.instance, r.opts.LeaseTTL.Milliseconds()).Int64()
	if err != nil || n < 1 {
		return // keep the last count: it is what an outage should use
	}
	before := r.share()
	r.replicas.Store(n)
	if after := r.share(); after != before {
		r.local.Store(newMemory(r.localOptions(), r.metrics, backendFallback))
		r.log.Info("quota replicas sharing the backend", "backend", "redis", "replicas", after)
	}
}

// localOptions are the fallback limiter's options for the current share.
func (r *Redis) localOptions() Options {
	o := r.opts
	o.GlobalRequestsPerSecond /= float64(r.share())
	return o
}
