// Package keystonefn wires the Keystone authorizer (keystone.Authorizer)
// to Lambda. It is apart from lambdafn and background so that the
// authorizer's binary links neither the API nor the worker: it runs before
// every request of AuthMode keystone, and its cold start is the caller's.
package keystonefn

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"karbor/internal/awscfg/lambdaenv"
	"karbor/internal/keystone"
	"karbor/internal/logging"
)

// Config is the authorizer's configuration, from the environment.
type Config struct {
	URL            string        // KEYSTONE_URL
	CredentialsARN string        // KEYSTONE_CREDENTIALS_ARN
	CacheTTL       time.Duration // KEYSTONE_CACHE_SECONDS, default 300; 0 = no cache
	// CredentialsEndpoint: CREDENTIALS_ENDPOINT, local only (moto_server
	// for Secrets Manager and SSM).
	CredentialsEndpoint string
}

// ConfigFromEnv reads Config.
func ConfigFromEnv() (Config, error) {
	c := Config{CredentialsARN: os.Getenv("KEYSTONE_CREDENTIALS_ARN"), CacheTTL: 300 * time.Second,
		CredentialsEndpoint: os.Getenv("CREDENTIALS_ENDPOINT")}
	u, err := keystone.NormalizeURL(os.Getenv("KEYSTONE_URL"))
	if err != nil {
		return c, err
	}
	c.URL = u
	if c.CredentialsARN == "" {
		return c, fmt.Errorf("KEYSTONE_CREDENTIALS_ARN must be set")
	}
	if v := os.Getenv("KEYSTONE_CACHE_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return c, fmt.Errorf("KEYSTONE_CACHE_SECONDS=%q is not a number of seconds", v)
		}
		c.CacheTTL = time.Duration(n) * time.Second
	}
	return c, nil
}

// CredentialsRetry: after a failed read of the credentials, the next read
// waits this long; the requests between get the 503 at once rather than
// each spending its budget on Secrets Manager or SSM.
const CredentialsRetry = 30 * time.Second

// Start runs the authorizer and never returns. A configuration error ends
// the init; credentials that cannot be read are read again at most once
// per CredentialsRetry, and until then every request gets the 503 (a
// Lambda error would be API Gateway's bare 500).
func Start() {
	log := logging.FromEnv()
	cfg, err := ConfigFromEnv()
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	awsCfg, err := lambdaenv.Load()
	if err != nil {
		log.Error("init failed", "error", err.Error())
		os.Exit(1)
	}
	h := &handler{log: log, load: func(ctx context.Context) (keystone.Credentials, error) {
		return LoadCredentials(ctx, awsCfg, cfg.CredentialsARN, cfg.CredentialsEndpoint)
	}, url: cfg.URL, cache: &keystone.Cache{TTL: cfg.CacheTTL}}
	// The init phase has its own 10 s.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	h.init(ctx)
	cancel()
	lambda.Start(h.handle)
}

type handler struct {
	log   *slog.Logger
	load  func(context.Context) (keystone.Credentials, error)
	url   string
	cache *keystone.Cache
	// client makes the validator from the credentials: a *keystone.Client
	// when nil.
	client func(keystone.Credentials) keystone.Validator
	now    func() time.Time // time.Now when nil

	mu        sync.Mutex
	auth      *keystone.Authorizer
	lastTried time.Time // the last read of the credentials; zero: none yet
}

func (h *handler) clock() time.Time {
	if h.now != nil {
		return h.now()
	}
	return time.Now()
}

// init reads the credentials if they are not read yet, and no read failed
// in the last CredentialsRetry; it reports whether the authorizer is
// ready.
func (h *handler) init(ctx context.Context) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.auth != nil {
		return true
	}
	now := h.clock()
	if !h.lastTried.IsZero() && now.Sub(h.lastTried) < CredentialsRetry {
		return false
	}
	h.lastTried = now
	creds, err := h.load(ctx)
	if err != nil {
		// The error names the ARN and the AWS error, never the secret.
		h.log.Error("reading the Keystone credentials failed", "error", err.Error(), "retry_in_seconds", int(CredentialsRetry.Seconds()))
		return false
	}
	var v keystone.Validator = &keystone.Client{URL: h.url, Credentials: creds}
	if h.client != nil {
		v = h.client(creds)
	}
	h.auth = &keystone.Authorizer{Keystone: v, Cache: h.cache, Log: h.log}
	return true
}

func (h *handler) handle(ctx context.Context, req events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
	// One deadline for the whole invocation: reading the credentials
	// (when not read yet) and validating share keystone.Budget, within
	// API Gateway's 10 s wait for the authorizer.
	ctx, cancel := context.WithTimeout(ctx, keystone.Budget)
	defer cancel()
	if !h.init(ctx) {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: map[string]any{
			keystone.CtxErrorStatus: "503", keystone.CtxErrorMessage: keystone.MsgUnavailable,
		}}, nil
	}
	return h.auth.Handle(ctx, req)
}
