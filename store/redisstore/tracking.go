package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/push"
)

// tracking keeps one connection per master that receives Redis's
// invalidation messages for the store's record keys (CLIENT TRACKING in
// broadcasting mode, RESP3) and applies them to the near cache. It owns
// those connections: each is a *redis.Client of its own, built from the
// options of the client the store was given, so the application's pool,
// hooks and retries are untouched and a broken connection is never
// silently replaced by a fresh one that tracks nothing.
//
// The cache serves records only under a lease that tracking renews:
// while every master's connection is up and confirmed alive within two
// heartbeats. A connection that is lost or re-established flushes the
// cache, so nothing read while invalidations could have been missed is
// ever served.
type tracking struct {
	cache     *nearCache
	keyOf     func(redisKey string) (string, bool)
	prefix    string // the BCAST prefix
	heartbeat time.Duration

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	cluster *redis.ClusterClient // nil for a single node or Sentinel
	kick    chan struct{}        // asks the cluster loop to look at the masters now

	mu       sync.Mutex
	trackers map[string]*tracker // by master address ("" without Cluster)
	lastErr  string
}

// tracker is one master's invalidation connection.
type tracker struct {
	t      *tracking
	addr   string
	client *redis.Client
	cancel context.CancelFunc
	done   chan struct{}

	// Guarded by t.mu.
	up        bool
	confirmed int64 // cache.mono time the connection was last known alive
}

// newTracking starts tracking for client, a *redis.Client (single node or
// Sentinel) or a *redis.ClusterClient.
func newTracking(client redis.UniversalClient, cache *nearCache, prefix string, keyOf func(string) (string, bool), heartbeat time.Duration) (*tracking, error) {
	ctx, cancel := context.WithCancel(context.Background())
	t := &tracking{
		cache:     cache,
		keyOf:     keyOf,
		prefix:    prefix,
		heartbeat: heartbeat,
		ctx:       ctx,
		cancel:    cancel,
		kick:      make(chan struct{}, 1),
		trackers:  map[string]*tracker{},
	}
	switch c := client.(type) {
	case *redis.Client:
		if o := c.Options(); o.ClientSideCache != nil || o.ClientSideCacheConfig != nil {
			// Loads would fill the near cache from go-redis's cache, which
			// may still hold what an invalidation already dropped here.
			cancel()
			return nil, errors.New("redisstore: NearCache cannot be used with a client that has go-redis's own client-side cache on")
		}
		t.mu.Lock()
		t.start("", c.Options())
		t.mu.Unlock()
	case *redis.ClusterClient:
		t.cluster = c
		t.wg.Go(t.watchMasters)
	default:
		cancel()
		return nil, fmt.Errorf("redisstore: NearCache needs a *redis.Client (single node or Sentinel) or a *redis.ClusterClient, not %T", client)
	}
	return t, nil
}

// close stops every tracker and waits for them.
func (t *tracking) close() {
	t.cancel()
	t.wg.Wait() // the cluster loop, which starts trackers
	t.mu.Lock()
	trs := make([]*tracker, 0, len(t.trackers))
	for _, tr := range t.trackers {
		trs = append(trs, tr)
	}
	t.mu.Unlock()
	for _, tr := range trs {
		tr.stop()
	}
	t.cache.flush(true)
}

// start runs a tracker for the master whose client options are o. t.mu
// must be held.
func (t *tracking) start(addr string, o *redis.Options) {
	ctx, cancel := context.WithCancel(t.ctx)
	tr := &tracker{
		t:      t,
		addr:   addr,
		client: redis.NewClient(trackerOptions(o)),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	// The client's push processor is shared by its connections.
	if err := tr.client.RegisterPushNotificationHandler("invalidate", tr, true); err != nil {
		// Not reachable: the client is new and speaks RESP3.
		t.lastErr = fmt.Sprintf("near cache: %v", err)
	}
	t.trackers[addr] = tr
	t.updateLease()
	go tr.run(ctx)
}

// trackerOptions returns the options of a tracker's own client: the
// application's (address or Sentinel dialer, credentials, TLS), with one
// connection, RESP3, no retries (a command retried on a new connection
// would hide that tracking was lost) and every read bounded by the
// context.
func trackerOptions(o *redis.Options) *redis.Options {
	c := *o
	c.Protocol = 3
	c.ClientName = "sessionkit-nearcache"
	c.PoolSize = 1
	c.MinIdleConns = 0
	c.MaxIdleConns = 1
	c.MaxActiveConns = 0
	c.PipelinePoolSize = -1
	c.MaxRetries = -1
	c.ContextTimeoutEnabled = true
	c.AutoPipelineOptions = nil
	c.PushNotificationProcessor = nil
	c.ClientSideCache = nil
	c.ClientSideCacheConfig = nil
	c.ClientSideCacheRefreshOnInvalidate = false
	c.ClientSideCacheCoalesceMisses = false
	c.ClientSideCacheInvalidationBatchWindow = 0
	return &c
}

// watchMasters keeps one tracker per Cluster master, looking at the
// masters every two heartbeats and whenever a tracker lost its
// connection.
func (t *tracking) watchMasters() {
	every := 2 * t.heartbeat
	for {
		t.syncMasters()
		select {
		case <-t.ctx.Done():
			return
		case <-t.kick:
		case <-time.After(every):
		}
	}
}

// syncMasters starts trackers for new masters and stops those of nodes
// that are no longer masters.
func (t *tracking) syncMasters() {
	ctx, cancel := context.WithTimeout(t.ctx, 2*t.heartbeat+time.Second)
	defer cancel()
	var mu sync.Mutex
	masters := map[string]*redis.Options{}
	err := t.cluster.ForEachMaster(ctx, func(_ context.Context, node *redis.Client) error {
		o := node.Options()
		mu.Lock()
		masters[o.Addr] = o
		mu.Unlock()
		return nil
	})
	if err != nil {
		// Keep the trackers there are: each is checked by its heartbeat.
		t.mu.Lock()
		t.lastErr = fmt.Sprintf("list cluster masters: %v", err)
		t.mu.Unlock()
		return
	}
	t.mu.Lock()
	var gone []*tracker
	for addr, tr := range t.trackers {
		if masters[addr] == nil {
			gone = append(gone, tr)
			delete(t.trackers, addr)
		}
	}
	for addr, o := range masters {
		if t.trackers[addr] == nil && t.ctx.Err() == nil {
			t.start(addr, o)
		}
	}
	if len(gone) > 0 {
		// The slots of a node that left may have moved to a master that
		// was not tracked when they were read.
		t.cache.flush(true)
		t.updateLease()
	}
	t.mu.Unlock()
	for _, tr := range gone {
		tr.stop()
	}
}

// updateLease sets the cache's lease from the trackers. t.mu must be
// held.
func (t *tracking) updateLease() {
	if len(t.trackers) == 0 || t.ctx.Err() != nil {
		t.cache.setLease(0)
		return
	}
	oldest := int64(math.MaxInt64)
	for _, tr := range t.trackers {
		if !tr.up {
			t.cache.setLease(0)
			return
		}
		oldest = min(oldest, tr.confirmed)
	}
	t.cache.setLease(oldest + int64(2*t.heartbeat))
}

// markUp records that tr's connection tracks invalidations since sent.
// Whatever the cache holds was read before that and is dropped.
func (t *tracking) markUp(tr *tracker, sent time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.trackers[tr.addr] != tr {
		return
	}
	t.cache.flush(false)
	tr.up = true
	tr.confirmed = t.cache.mono(sent)
	t.updateLease()
}

// confirm records that tr's connection was alive at sent, and that every
// invalidation sent before then has been applied.
func (t *tracking) confirm(tr *tracker, sent time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.trackers[tr.addr] != tr || !tr.up {
		return
	}
	tr.confirmed = t.cache.mono(sent)
	t.updateLease()
}

// markIdle records that tr's connection is about to turn invalidations
// off because the cache went idle: the cache is dropped and not used
// until every tracker is up again.
func (t *tracking) markIdle(tr *tracker) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr.up = false
	if t.trackers[tr.addr] == tr {
		t.cache.flush(true)
		t.updateLease()
	}
}

// markDown records that tr's connection was lost: invalidations may have
// been missed, so the cache is dropped and not used until every tracker
// is up again.
func (t *tracking) markDown(tr *tracker, err error) {
	t.mu.Lock()
	if err != nil {
		t.lastErr = err.Error()
	}
	wasUp := tr.up
	tr.up = false
	if t.trackers[tr.addr] == tr {
		t.cache.flush(true)
		t.updateLease()
	}
	t.mu.Unlock()
	if wasUp && t.cluster != nil {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
}

func (t *tracking) lastError() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastErr
}

// stop ends the tracker and waits for it.
func (tr *tracker) stop() {
	tr.cancel()
	tr.client.Close() // ends a blocked WAIT at once
	<-tr.done
}

// run keeps a tracking connection open until ctx ends, reconnecting with
// a capped backoff.
func (tr *tracker) run(ctx context.Context) {
	defer close(tr.done)
	const minBackoff, maxBackoff = 50 * time.Millisecond, 2 * time.Second
	backoff := minBackoff
	for {
		began := time.Now()
		err := tr.session(ctx)
		if ctx.Err() != nil {
			tr.t.markDown(tr, nil)
			return
		}
		tr.t.markDown(tr, fmt.Errorf("near cache connection to %s: %w", tr.name(), err))
		if time.Since(began) > 10*maxBackoff {
			backoff = minBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (tr *tracker) name() string {
	if tr.addr == "" {
		return "the master"
	}
	return tr.addr
}

// session turns tracking on on a new connection and then confirms it
// every heartbeat with a WAIT that cannot be satisfied (so it blocks for
// the heartbeat and then answers): while it blocks, go-redis reads the
// connection and hands each invalidation to HandlePushNotification at
// once. WAIT also fails on a replica, so a master that was demoted ends
// the session. Between heartbeats it turns tracking off while the cache
// is idle and back on when it resumes. It returns when the connection
// fails.
func (tr *tracker) session(ctx context.Context) error {
	conn := tr.client.EphemeralConn()
	defer conn.Close()
	timeout := 2*tr.t.heartbeat + time.Second
	on := []any{"client", "tracking", "on", "bcast"}
	if tr.t.prefix != "" {
		on = append(on, "prefix", tr.t.prefix)
	} // else every key (Options.NoPrefix)
	tracking := false
	for {
		if idle := tr.t.cache.wantIdle(); idle == tracking {
			sent := time.Now()
			if idle {
				// Stop serving first: invalidations still arriving until
				// OFF is answered are harmless.
				tr.t.markIdle(tr)
			}
			args := on
			if idle {
				args = []any{"client", "tracking", "off"}
			}
			cctx, cancel := context.WithTimeout(ctx, timeout)
			err := conn.Do(cctx, args...).Err()
			cancel()
			if err != nil {
				return fmt.Errorf("CLIENT TRACKING: %w", err)
			}
			tracking = !idle
			if tracking {
				tr.t.markUp(tr, sent)
			}
		}
		// Each confirmation's lease is two heartbeats from when its WAIT
		// was sent, and the next confirmation comes two WAITs later than
		// that, each a little past its timeout (Redis ends a blocking
		// command at its hz, up to 100ms late; then the round trip and
		// the scheduler): waiting a whole heartbeat let every lease lapse
		// before the next confirmation came, so the cache stopped
		// serving in every cycle (half the time with a 200ms heartbeat
		// on a quiet server). Half a heartbeat leaves the lateness half
		// a heartbeat of room.
		sent := time.Now()
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err := conn.Wait(cctx, math.MaxInt32, tr.t.heartbeat/2).Err()
		cancel()
		if err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
		if tracking {
			tr.t.confirm(tr, sent)
		}
	}
}

// HandlePushNotification applies one invalidation message: a list of keys
// that changed, or nil when the database was flushed.
func (tr *tracker) HandlePushNotification(_ context.Context, _ push.NotificationHandlerContext, n []any) error {
	if len(n) < 2 {
		return errors.New("redisstore: near cache: invalidation without keys")
	}
	c := tr.t.cache
	switch keys := n[1].(type) {
	case nil:
		c.flush(false)
	case []any:
		for _, k := range keys {
			rk, ok := k.(string)
			if !ok {
				continue
			}
			key, ok := tr.t.keyOf(rk)
			if !ok {
				continue
			}
			c.invalidate(key, true)
		}
	default:
		return fmt.Errorf("redisstore: near cache: invalidation of %T", n[1])
	}
	return nil
}
