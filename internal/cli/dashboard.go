package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/dashboard"
	"github.com/nngpt/nngpt/store/sqlite"
	"github.com/nngpt/nngpt/workspace"
)

func newDashboardCmd(g *globals) *cobra.Command {
	var (
		addr, token string
		poll        time.Duration
	)
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "A live web UI over the workspace: loops, candidates, the corpus, HPO studies and the block library",
		Long: `Serve a web dashboard over the workspace's store while 'nngpt run' and
'nngpt hpo' write to it from other processes: the loops (status, progress,
best), one loop live (running trainings, the candidates table, accuracy per
cycle, accuracy vs parameters and vs training time with their Pareto fronts,
the lineage tree, operator statistics), each candidate (code diff against its
parents, hyperparameters, learning curve, verdict, log tail, repro data),
LEMUR's data() over the corpus, HPO studies (history, intermediate values,
parallel coordinates, parameter importance) and the NN-RAG block library.
Pages update by themselves (server-sent events from one cheap change probe).

The store is opened read-only. By default the dashboard binds to 127.0.0.1;
any other address needs an access token: --token, env NNGPT_DASHBOARD_TOKEN,
or a random one that is printed with the URL to open.

  nngpt dashboard
  nngpt dashboard --addr 127.0.0.1:9000
  nngpt dashboard --addr 0.0.0.0:8080        # prints http://HOST:8080/?token=...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if poll < 100*time.Millisecond {
				return &ExitError{Code: 2, Err: fmt.Errorf("--poll %v: want at least 100ms (the change probe runs this often)", poll)}
			}
			loopback, err := dashboard.IsLoopback(addr)
			if err != nil {
				return &ExitError{Code: 2, Err: fmt.Errorf("--addr: %w", err)}
			}
			if !loopback && token == "" {
				token = dashboard.NewToken()
			}
			return serveDashboard(cmd.Context(), g, addr, token, poll)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on; a non-loopback one requires an access token")
	f.StringVar(&token, "token", os.Getenv("NNGPT_DASHBOARD_TOKEN"), "access token required on every request (env NNGPT_DASHBOARD_TOKEN; generated for a non-loopback --addr)")
	f.DurationVar(&poll, "poll", time.Second, "how often the change probe looks for new writes")
	return cmd
}

func serveDashboard(ctx context.Context, g *globals, addr, token string, poll time.Duration) error {
	dir, err := filepath.Abs(g.workspace)
	if err != nil {
		return err
	}
	st, err := sqlite.OpenReadOnly(ctx, filepath.Join(dir, workspace.DBName))
	if err != nil {
		return err
	}
	defer st.Close()
	changes, err := st.Changes(ctx)
	if err != nil {
		return err
	}
	defer changes.Close()
	srv, err := dashboard.New(dashboard.Options{
		Store: st, Changes: changes, Poll: poll, WorkspaceDir: dir, Token: token,
		Log: slog.Default(),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("dashboard: listen on %s: %w (is another dashboard running there? pick another with --addr)", addr, err)
	}
	url := "http://" + ln.Addr().String() + "/"
	if token != "" {
		url += "?token=" + token
	}
	fmt.Fprintf(g.stdout, "nngpt dashboard of %s at %s (Ctrl-C stops it)\n", dir, url)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Requests inherit ctx, so open event streams end with the command.
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	feedErr := make(chan error, 1)
	go func() { feedErr <- srv.Run(ctx) }()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer c()
		hs.Shutdown(sctx) // SSE streams end with their request contexts
	}()
	err = hs.Serve(ln)
	cancel()
	if ferr := <-feedErr; ferr != nil {
		return ferr
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
