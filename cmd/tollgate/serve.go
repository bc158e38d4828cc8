package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/apikey"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/certs"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/control"
	"github.com/tollgate-dev/tollgate/identity"
	"github.com/tollgate-dev/tollgate/keyseal"
	"github.com/tollgate-dev/tollgate/policy"
	"github.com/tollgate-dev/tollgate/proxy"
	"github.com/tollgate-dev/tollgate/quota"
	"github.com/tollgate-dev/tollgate/resolver"
	"github.com/tollgate-dev/tollgate/store/postgres"
	"github.com/tollgate-dev/tollgate/store/sqlite"
	"github.com/tollgate-dev/tollgate/tenancy"
)

// exitError carries the exit code of SPEC §1 with the one-sentence message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func usageErr(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func serve(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "configuration file (default: the embedded default)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "tollgate serve: unexpected argument %q; use --config FILE.\n", fs.Arg(0))
		return 2
	}
	err := runServer(ctx, *cfgPath, stderr)
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "tollgate: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	cfg, err := config.Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &exitError{code: 2, err: fmt.Errorf("config file %s does not exist; pass an existing file to --config, or omit --config to run the embedded default", path)}
	}
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return cfg, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.Level}
	if cfg.Log.Format == config.FormatText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// server holds the wired pieces so reload and shutdown can reach them.
type server struct {
	cfg      *config.Config
	cfgPath  string
	log      *slog.Logger
	store    tollgate.Store
	registry *identity.Registry
	tenants  *tenancy.Tenants
	control  *control.Server
	proxy    *proxy.Proxy
	writer   *audit.Writer
	limiter  tollgate.Limiter
	redis    *quota.Redis
	listens  []netip.AddrPort
}

func runServer(ctx context.Context, cfgPath string, stderr io.Writer) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	s := &server{cfg: cfg, cfgPath: cfgPath, log: log}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory %s: %w (set data_dir to a writable directory)", cfg.DataDir, err)
	}

	// Listeners first: the policy must know their addresses to refuse them.
	// Proxy listeners skip TCP keep-alive probes: proxy.idle_timeout ends
	// idle connections, and the probes cost four syscalls per accept.
	proxyListen := net.ListenConfig{KeepAlive: -1}
	proxyLn, err := proxyListen.Listen(ctx, "tcp", cfg.Proxy.Listen)
	if err != nil {
		return fmt.Errorf("listen on proxy.listen %s: %w (stop the process holding it or set proxy.listen to a free address)", cfg.Proxy.Listen, err)
	}
	defer proxyLn.Close()
	controlLn, err := net.Listen("tcp", cfg.Control.Listen)
	if err != nil {
		return fmt.Errorf("listen on control.listen %s: %w (stop the process holding it or set control.listen to a free address)", cfg.Control.Listen, err)
	}
	defer controlLn.Close()
	var tlsLn net.Listener
	if cfg.Proxy.TLSListen != "" {
		if tlsLn, err = proxyListen.Listen(ctx, "tcp", cfg.Proxy.TLSListen); err != nil {
			return fmt.Errorf("listen on proxy.tls_listen %s: %w (stop the process holding it or set proxy.tls_listen to a free address)", cfg.Proxy.TLSListen, err)
		}
		defer tlsLn.Close()
	}
	for _, ln := range []net.Listener{proxyLn, controlLn, tlsLn} {
		if ln != nil {
			s.listens = append(s.listens, netip.MustParseAddrPort(ln.Addr().String()))
		}
	}

	engine, err := s.buildEngine(cfg)
	if err != nil {
		return &exitError{code: 2, err: err}
	}

	sealer, err := keyseal.Load(os.Getenv("TOLLGATE_MASTER_KEY"), filepath.Join(cfg.DataDir, "master.key"))
	if err != nil {
		return fmt.Errorf("load master key: %w (set TOLLGATE_MASTER_KEY or make %s readable)", err, filepath.Join(cfg.DataDir, "master.key"))
	}
	if s.store, err = openStore(ctx, cfg, log); err != nil {
		return err
	}
	defer s.store.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.registry = identity.NewRegistry(s.store, time.Now, log)
	adminToken, err := adminToken(cfg)
	if err != nil {
		return err
	}
	s.registry.SetAdminToken(adminToken)

	ca, err := certs.LoadOrCreateCA(cfg.Intercept.CACertFile, cfg.Intercept.CAKeyFile, time.Now)
	if err != nil {
		return fmt.Errorf("intercept CA: %w", err)
	}
	issuer := certs.NewIssuer(ca, 4096, time.Now, reg)

	if s.limiter, err = s.buildLimiter(reg); err != nil {
		return err
	}
	s.writer = audit.NewWriter(s.store.Audit(), audit.WriterOptions{FlushInterval: cfg.Audit.FlushInterval, Logger: log}, reg)

	s.control = control.NewServer(control.Options{
		Store:    s.store,
		Registry: s.registry,
		Sealer:   sealer,
		CAPEM:    ca.CertPEM,
		Ready:    s.ready,
		Metrics:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		Defaults: cfg.Defaults,
		Now:      time.Now,
		Logger:   log,
	})

	s.tenants = tenancy.New(s.registry, s.store.Admin(), sealer, time.Now, log)
	s.registry.OnSwap(func() {
		if err := s.tenants.Rebuild(context.Background()); err != nil {
			log.Warn("tenant state rebuilt with errors", slog.String("error", err.Error()))
		}
	})
	if err := s.registry.Reload(ctx); err != nil {
		return fmt.Errorf("load tenants and keys: %w", err)
	}
	if err := s.applyTenants(ctx, cfg); err != nil {
		return err
	}

	res, err := resolver.New(resolver.Config{
		Servers: cfg.Resolver.Servers, Timeout: cfg.Resolver.Timeout, CacheSize: cfg.Resolver.CacheSize,
		MinTTL: cfg.Resolver.MinTTL, MaxTTL: cfg.Resolver.MaxTTL, NegativeTTL: cfg.Resolver.NegativeTTL,
	}, reg, time.Now)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("resolver: %w", err)}
	}
	roots, err := upstreamRoots(cfg.Egress.UpstreamCAFile)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	s.proxy, err = proxy.New(proxy.Options{
		Engine:            engine,
		Resolver:          res,
		Auth:              authAdapter{r: s.registry, requireAuth: cfg.Proxy.RequireAuth},
		Tenants:           s.tenants,
		Limiter:           s.limiter,
		Audit:             proxyRecorder(s.writer),
		Issuer:            issuer,
		UpstreamRoots:     roots,
		ConnectTimeout:    cfg.Proxy.ConnectTimeout,
		IdleTimeout:       cfg.Proxy.IdleTimeout,
		MaxTunnelDuration: cfg.Proxy.MaxTunnelDuration,
		Metrics:           proxy.NewMetrics(reg),
		Logger:            log,
	})
	if err != nil {
		return err
	}

	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.registry.Run(bg) })
	wg.Go(func() { audit.RunRetention(bg, s.store.Audit(), cfg.Audit.Retention, time.Hour, time.Now, log) })

	proxySrv := &http.Server{
		Handler:           s.proxy,
		ReadHeaderTimeout: cfg.Proxy.ReadHeaderTimeout,
		IdleTimeout:       cfg.Proxy.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	controlSrv := &http.Server{
		Handler:           s.control.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 3)
	go func() { errc <- proxySrv.Serve(s.proxy.Listener(proxyLn)) }()
	go func() { errc <- controlSrv.Serve(controlLn) }()
	var tlsSrv *http.Server
	if tlsLn != nil {
		tlsSrv = &http.Server{Handler: s.proxy, ReadHeaderTimeout: cfg.Proxy.ReadHeaderTimeout, IdleTimeout: cfg.Proxy.IdleTimeout, MaxHeaderBytes: 64 << 10}
		go func() { errc <- tlsSrv.ServeTLS(tlsLn, cfg.Proxy.TLSCertFile, cfg.Proxy.TLSKeyFile) }()
	}
	for _, w := range engine.Warnings() {
		log.Warn("egress exception", slog.String("detail", w))
	}
	log.Info("tollgate started",
		slog.String("proxy", proxyLn.Addr().String()),
		slog.String("control", controlLn.Addr().String()),
		slog.String("data_dir", cfg.DataDir),
		slog.String("store", cfg.Store.Driver),
		slog.String("quota", cfg.Quota.Backend),
		slog.Bool("require_auth", cfg.Proxy.RequireAuth))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			s.reload(ctx)
		case err := <-errc:
			if !errors.Is(err, http.ErrServerClosed) {
				runErr = fmt.Errorf("listener stopped: %w", err)
			}
			break loop
		}
	}

	// Graceful drain: stop accepting, let in-flight requests finish, flush the audit queue.
	log.Info("tollgate shutting down")
	drainCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = proxySrv.Shutdown(drainCtx)
	if tlsSrv != nil {
		_ = tlsSrv.Shutdown(drainCtx)
	}
	_ = controlSrv.Shutdown(drainCtx)
	tunnelCtx, cancelTunnels := context.WithTimeout(drainCtx, 10*time.Second)
	s.proxy.Shutdown(tunnelCtx)
	cancelTunnels()
	if err := s.writer.Close(drainCtx); err != nil {
		log.Error("audit flush at shutdown", slog.String("error", err.Error()))
	}
	if s.redis != nil {
		_ = s.redis.Close() // leaves the replica set; leases expire on their own
	}
	if err := s.registry.Flush(drainCtx); err != nil {
		log.Warn("last-used flush at shutdown", slog.String("error", err.Error()))
	}
	stopBG()
	wg.Wait()
	log.Info("tollgate stopped")
	return runErr
}

func (s *server) buildEngine(cfg *config.Config) (*policy.Engine, error) {
	var local []netip.Addr
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				local = append(local, p.Addr().Unmap())
			}
		}
	}
	eng, err := policy.New(policy.Config{
		DenyCIDRs:  cfg.Egress.DenyCIDRs,
		AllowCIDRs: cfg.Egress.AllowCIDRs,
		OwnDomains: cfg.Egress.OwnDomains,
		Listeners:  s.listens,
		LocalAddrs: local,
	})
	if err != nil {
		return nil, fmt.Errorf("egress policy: %w", err)
	}
	return eng, nil
}

func openStore(ctx context.Context, cfg *config.Config, log *slog.Logger) (tollgate.Store, error) {
	switch cfg.Store.Driver {
	case "postgres":
		st, err := postgres.Open(ctx, postgres.Options{DSN: cfg.Store.DSN, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store: %w (check store.dsn and that the server is reachable)", err)
		}
		return st, nil
	default:
		st, err := sqlite.Open(ctx, cfg.Store.DSN, log)
		if err != nil {
			return nil, fmt.Errorf("open SQLite store %s: %w (check that data_dir is writable)", cfg.Store.DSN, err)
		}
		return st, nil
	}
}

func (s *server) buildLimiter(reg prometheus.Registerer) (tollgate.Limiter, error) {
	opts := quota.Options{
		GlobalRequestsPerSecond: s.cfg.Quota.GlobalRequestsPerSecond,
		OnBackendError:          s.cfg.Quota.OnBackendError,
		Now:                     time.Now,
		Logger:                  s.log,
	}
	if s.cfg.Quota.Backend != "redis" {
		return quota.NewMemory(opts, reg), nil
	}
	ro, err := redis.ParseURL(s.cfg.Quota.RedisURL)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("quota.redis_url: %w", err)}
	}
	s.redis = quota.NewRedis(redis.NewClient(ro), "tollgate:", opts, reg)
	return s.redis, nil
}

// ready backs /readyz: the store and the quota backend must answer.
func (s *server) ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if s.redis != nil {
		if err := s.redis.Check(ctx); err != nil {
			return fmt.Errorf("quota backend: %w", err)
		}
	}
	return nil
}

// applyTenants upserts the declarative tenants and, when authentication is
// off, makes sure tenant "default" exists.
func (s *server) applyTenants(ctx context.Context, cfg *config.Config) error {
	if !cfg.Proxy.RequireAuth {
		def := cfg.Defaults
		def.ID = tollgate.DefaultTenantID
		if def.Name == "" {
			def.Name = "Default tenant"
		}
		if err := s.control.EnsureTenant(ctx, def); err != nil {
			return fmt.Errorf("create tenant %q: %w", tollgate.DefaultTenantID, err)
		}
	}
	if err := s.control.UpsertDeclarative(ctx, cfg.Tenants); err != nil {
		return fmt.Errorf("apply tenants from config: %w", err)
	}
	return nil
}

// reload re-reads the configuration on SIGHUP. A bad file keeps the running
// configuration; listeners, store and data directory need a restart.
func (s *server) reload(ctx context.Context) {
	if s.cfgPath == "" {
		s.log.Info("SIGHUP ignored: running on the embedded default")
		return
	}
	cfg, err := config.Load(s.cfgPath)
	if err != nil {
		s.log.Error("reload rejected, keeping the running configuration", slog.String("error", err.Error()))
		return
	}
	eng, err := s.buildEngine(cfg)
	if err != nil {
		s.log.Error("reload rejected, keeping the running configuration", slog.String("error", err.Error()))
		return
	}
	s.proxy.SetEngine(eng)
	s.control.SetDefaults(cfg.Defaults)
	if err := s.applyTenants(ctx, cfg); err != nil {
		s.log.Error("reload: tenants", slog.String("error", err.Error()))
		return
	}
	s.cfg = cfg
	s.log.Info("configuration reloaded", slog.String("file", s.cfgPath))
}

// adminToken returns TOLLGATE_ADMIN_TOKEN or the token file, generating the
// file (mode 0600) on first start.
func adminToken(cfg *config.Config) (string, error) {
	if t := strings.TrimSpace(os.Getenv("TOLLGATE_ADMIN_TOKEN")); t != "" {
		return t, nil
	}
	path := cfg.Control.AdminTokenFile
	b, err := os.ReadFile(path)
	if err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read admin token %s: %w", path, err)
	}
	t, err := apikey.Generate()
	if err != nil {
		return "", fmt.Errorf("generate admin token: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write admin token %s: %w", path, err)
	}
	return t, nil
}

func upstreamRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil // system roots
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("egress.upstream_ca_file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("egress.upstream_ca_file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// authAdapter turns the identity registry into the proxy's Authenticator.
type authAdapter struct {
	r           *identity.Registry
	requireAuth bool
}

func (a authAdapter) AuthenticateProxy(header string, client netip.Addr) (proxy.Caller, tollgate.Decision) {
	p, d := a.r.AuthenticateProxy(header, client, a.requireAuth)
	c := proxy.Caller{KeyID: p.KeyID()}
	if p.Tenant != nil {
		c.Tenant = p.Tenant.ID
	}
	return c, d
}
