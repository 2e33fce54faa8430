package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/runner/slurm"
	"github.com/nngpt/nngpt/store/postgres"
)

// The cluster figures need the real services (scripts/services.sh start)
// and, for the import, a LEMUR archive in NNGPT_LEMUR:
//
//	. $DIR/env && NNGPT_LEMUR=.../lemur-dev.tar.gz go test ./bench/ -run '^$' -bench 'Store|Slurm' -benchtime 1x

// BenchmarkStoreImport imports a LEMUR archive into SQLite and into
// PostgreSQL and checks that both hold the same rows.
func BenchmarkStoreImport(b *testing.B) {
	src := os.Getenv("NNGPT_LEMUR")
	base := os.Getenv("NNGPT_TEST_POSTGRES")
	if src == "" || base == "" {
		b.Skip("needs NNGPT_LEMUR (a LEMUR archive) and NNGPT_TEST_POSTGRES (scripts/services.sh start)")
	}
	ctx := context.Background()
	for b.Loop() {
		pg, err := postgres.Open(ctx, freshSchema(b, base))
		if err != nil {
			b.Fatal(err)
		}
		res, err := StoreImport(ctx, src, b.TempDir(), pg)
		pg.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%+v", *res)
		if !res.Identical {
			b.Fatalf("the stores differ: %+v", *res)
		}
		b.ReportMetric(res.SQLiteWall.Seconds(), "sqlite_s")
		b.ReportMetric(res.PostgresWall.Seconds(), "postgres_s")
		b.ReportMetric(float64(res.Records), "records")
	}
}

func freshSchema(b *testing.B, base string) string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	r := make([]byte, 6)
	rand.Read(r)
	schema := "bench_" + hex.EncodeToString(r)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), base); err == nil {
			c.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
			c.Close(context.Background())
		}
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

const benchModel = `import torch
import torch.nn as nn


def supported_hyperparameters():
    return {'lr', 'momentum'}


class Net(nn.Module):
    def __init__(self, in_shape, out_shape, prm, device):
        super().__init__()
        self.fc = nn.Linear(in_shape[1] * in_shape[2] * in_shape[3], out_shape[0])

    def forward(self, x):
        return self.fc(x.flatten(1))

    def train_setup(self, prm):
        self.criteria = (nn.CrossEntropyLoss(),)
        self.optimizer = torch.optim.SGD(self.parameters(), lr=prm['lr'], momentum=prm['momentum'])

    def learn(self, train_data):
        for x, y in train_data:
            self.optimizer.zero_grad()
            self.criteria[0](self(x), y).backward()
            self.optimizer.step()
`

// clusterEnv is an interpreter, the sandbox, a small shapes dataset and a
// cache folder the workers' uid can enter, and the cluster's shared folder.
func clusterEnv(b *testing.B) (*runner.Python, *runner.Sandbox, *runner.Dataset, string, string) {
	shared := os.Getenv("NNGPT_TEST_SLURM_SHARED")
	if shared == "" || os.Getenv("SLURM_CONF") == "" {
		b.Skip("needs a Slurm cluster: SLURM_CONF and NNGPT_TEST_SLURM_SHARED (scripts/services.sh start)")
	}
	ctx := context.Background()
	cache, err := os.MkdirTemp("", "nngpt-bench-cluster-")
	if err != nil {
		b.Fatal(err)
	}
	os.Chmod(cache, 0o755)
	b.Cleanup(func() { os.RemoveAll(cache) })
	py, _, err := runner.FindPython(ctx, runner.PythonOptions{CacheDir: cache})
	if err != nil {
		b.Skip(err)
	}
	sb, err := runner.NewSandbox(ctx, runner.SandboxAuto)
	if err != nil {
		b.Fatal(err)
	}
	d, err := runner.Datasets{CacheDir: cache, Sandbox: sb}.Prepare(ctx, py, runner.DatasetSpec{Name: "shapes", NTrain: 256, NTest: 64, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	return py, sb, d, cache, shared
}

var benchLimits = runner.Limits{Memory: 2 << 30, StartTimeout: 5 * time.Minute}

// BenchmarkSlurmVsLocal runs the same short jobs (one epoch of a linear
// model on 256 shapes images) on the local executor and on Slurm, two at a
// time each: submit-to-first-event latency and the overhead per job.
func BenchmarkSlurmVsLocal(b *testing.B) {
	py, sb, d, cache, shared := clusterEnv(b)
	ctx := context.Background()
	loc, err := runner.NewLocal(ctx, runner.LocalConfig{Python: py, Sandbox: sb, Slots: 2, Threads: 1, CacheDir: cache, Limits: benchLimits})
	if err != nil {
		b.Fatal(err)
	}
	sl, err := slurm.New(ctx, slurm.Options{SharedDir: shared, Python: py, Threads: 1, Limits: benchLimits})
	if err != nil {
		b.Fatal(err)
	}
	job := runner.Job{Name: "benchlin", Code: benchModel, Data: d, Batch: 32, Epochs: 1}
	const n = 6
	for b.Loop() {
		for _, ex := range []struct {
			name string
			ex   runner.Executor
		}{{"local", loc}, {"slurm", sl}} {
			fig, err := RunJobs(ctx, ex.ex, job, n, 2, ex.name == "slurm")
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %+v", ex.name, *fig)
			if fig.OK != n {
				b.Fatalf("%s: %d of %d jobs ok", ex.name, fig.OK, n)
			}
			b.ReportMetric(fig.MedianFirstEventS, ex.name+"_first_event_s")
			b.ReportMetric(fig.MedianTotalS, ex.name+"_job_s")
			b.ReportMetric(fig.MedianOverheadS, ex.name+"_overhead_s")
		}
	}
}

// BenchmarkSlurm50Jobs pushes 50 short jobs through the Slurm executor at
// once (Slurm queues them): none may be lost or run twice.
func BenchmarkSlurm50Jobs(b *testing.B) {
	py, _, d, _, shared := clusterEnv(b)
	ctx := context.Background()
	sl, err := slurm.New(ctx, slurm.Options{SharedDir: shared, Python: py, Threads: 1, Limits: benchLimits})
	if err != nil {
		b.Fatal(err)
	}
	job := runner.Job{Name: "benchlin", Code: benchModel, Data: d, Batch: 32, Epochs: 1}
	for b.Loop() {
		fig, err := RunJobs(ctx, sl, job, 50, 50, true)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("%+v", *fig)
		if fig.LostOrDoubled != 0 {
			b.Fatalf("%d jobs lost or doubled", fig.LostOrDoubled)
		}
		b.ReportMetric(float64(fig.OK), "ok")
		b.ReportMetric(float64(fig.LostOrDoubled), "lost_or_doubled")
		b.ReportMetric(fig.JobsPerMinute, "jobs/min")
	}
}
