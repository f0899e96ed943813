// Package localserver runs every route of the API on one machine: the same
// handlers as the Lambda functions, over a local DynamoDB endpoint, with the
// development token for identity.
package localserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"karbor/internal/api"
	"karbor/internal/awscfg"
	"karbor/internal/moto"
	"karbor/internal/store"
	"karbor/internal/tables"
)

// Config is the local server's configuration.
type Config struct {
	Addr             string // listen address, 127.0.0.1:3000 by default
	Endpoint         string // DynamoDB endpoint; empty starts moto_server
	PlansTable       string
	CheckpointsTable string
	Log              *slog.Logger
	// Ready, when set, receives the server's base URL once it listens.
	Ready func(baseURL string)
}

// Run serves until ctx is done, then stops everything it started.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Log
	endpoint := cfg.Endpoint
	if endpoint == "" {
		srv, err := moto.Start(ctx)
		if err != nil {
			return err
		}
		defer srv.Stop()
		endpoint = srv.Endpoint
		log.Info("started moto_server", "endpoint", endpoint)
	}
	awsCfg, err := awscfg.Load(ctx, true)
	if err != nil {
		return err
	}
	db := awscfg.DynamoDB(awsCfg, endpoint)
	if err := tables.Ensure(ctx, db, tables.Names{tables.Plans: cfg.PlansTable, tables.Checkpoints: cfg.CheckpointsTable}); err != nil {
		return fmt.Errorf("tables at %s: %w", endpoint, err)
	}
	svc := &api.Service{
		Store: store.New(db, cfg.PlansTable, cfg.CheckpointsTable),
		Auth:  api.DevTokenAuth{},
		Log:   log,
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	server := &http.Server{Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- server.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	log.Info("serving", "url", base, "dynamodb", endpoint, "plans_table", cfg.PlansTable, "checkpoints_table", cfg.CheckpointsTable)
	if cfg.Ready != nil {
		cfg.Ready(base)
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return server.Shutdown(shutdown)
}
