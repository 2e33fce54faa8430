// Package cli holds nngpt's cobra commands. Commands only parse flags, call
// the domain packages and print; the work itself lives in those packages.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/workspace"
)

// Version is set at build time with -ldflags "-X github.com/nngpt/nngpt/internal/cli.Version=...".
var Version = "0.1.0-dev"

// ExitError carries a process exit status along with the error that caused it.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}
func (e *ExitError) Unwrap() error { return e.Err }

// globals are the flags every command shares.
type globals struct {
	workspace string
	store     string // a postgres:// URL; "": the workspace's SQLite file
	logLevel  string
	stdout    io.Writer
	stderr    io.Writer
}

// Main runs the nngpt command line and returns the process exit status.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Execute(ctx, args, os.Stdout, os.Stderr)
}

// Execute runs the command line with the given streams; tests call it directly.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintln(stderr, "nngpt:", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintln(stderr, "nngpt:", err)
	if ctx.Err() != nil {
		return 130
	}
	return 1
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "nngpt",
		Short: "LLM-driven AutoML for computer-vision networks, on the LEMUR dataset",
		Long: `nngpt turns large language models into a self-improving AutoML system for
computer-vision networks. It keeps a LEMUR-compatible corpus of models and
training runs, generates new candidates (with an LLM or the built-in evolve
generator), trains them in a sandboxed PyTorch worker, predicts accuracy,
tunes hyperparameters and grows the corpus in a closed loop.

Everything lives in a workspace folder (--workspace, env NNGPT_WORKSPACE,
default ./nngpt-work) holding the database nngpt.db and the run artefacts.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return g.setupLogging()
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	def := os.Getenv("NNGPT_WORKSPACE")
	if def == "" {
		def = "nngpt-work"
	}
	root.PersistentFlags().StringVarP(&g.workspace, "workspace", "w", def, "workspace folder (env NNGPT_WORKSPACE)")
	root.PersistentFlags().StringVar(&g.store, "store", os.Getenv("NNGPT_STORE"), "the corpus: a postgres:// URL shared by several coordinators (env NNGPT_STORE; default: nngpt.db in the workspace)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("NNGPT_LOG_LEVEL", "warn"), "log level: debug, info, warn, error (env NNGPT_LOG_LEVEL)")

	root.AddCommand(
		newVersionCmd(g),
		newHashCmd(g),
		newLemurCmd(g),
		newDataCmd(g),
		newBenchCmd(g),
		newInitCmd(g),
		newConfigCmd(g),
		newRunCmd(g),
		newPredictCmd(g),
		newCheckCmd(g),
		newDoctorCmd(g),
		newReportCmd(g),
		newFinetuneCmd(g),
		newPromptsCmd(g),
		newGateCmd(g),
		newGenerateCmd(g),
		newHPOCmd(g),
		newRAGCmd(g),
		newDashboardCmd(g),
	)
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (g *globals) setupLogging() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: lvl})))
	return nil
}

// openWorkspace opens (creating when needed) the workspace and its store.
func (g *globals) openWorkspace(ctx context.Context) (*workspace.Workspace, error) {
	return workspace.OpenWith(ctx, g.workspace, g.store)
}

// writeJSON prints v as indented JSON on stdout.
func writeJSON(g *globals, v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
