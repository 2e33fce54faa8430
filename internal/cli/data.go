package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

func newDataCmd(g *globals) *cobra.Command {
	var f store.Filter
	var epoch int
	var asJSON, asCSV, summary bool
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Query training statistics (LEMUR's data())",
		Long: `Query the workspace's training statistics with the semantics of LEMUR's
data(): filter by task, dataset, metric, model and epoch; --best keeps only
the best-accuracy rows per task, dataset, metric, model and epoch (ties
kept). Output is an aligned table, --json (one object per line) or --csv.
--summary prints counts per task, dataset and metric instead.`,
		Example: `  nngpt data --summary
  nngpt data --task img-classification --dataset cifar-10 --best --max-rows 20
  nngpt data --nn AlexNet --epoch 1 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if asJSON && asCSV {
				return fmt.Errorf("--json and --csv: choose one output format")
			}
			if cmd.Flags().Changed("epoch") {
				f.Epoch, f.EpochSet = epoch, true
			}
			ws, err := g.openWorkspace(ctx)
			if err != nil {
				return err
			}
			defer ws.Close()
			out := bufio.NewWriterSize(g.stdout, 1<<16)
			defer out.Flush()
			if summary {
				rows, err := ws.Store.Summary(ctx)
				if err != nil {
					return err
				}
				return printSummary(out, rows, asJSON, asCSV)
			}
			var tw *tabwriter.Writer
			var cw *csv.Writer
			header := []string{"task", "dataset", "metric", "nn", "epoch", "accuracy", "duration", "transform", "uid", "prm"}
			switch {
			case asCSV:
				cw = csv.NewWriter(out)
				cw.Write(header)
				defer cw.Flush()
			case !asJSON:
				tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				writeTabRow(tw, header)
				defer tw.Flush()
			}
			n := 0
			for r, err := range ws.Store.Stats(ctx, f) {
				if err != nil {
					return err
				}
				n++
				if asJSON {
					b, err := lemur.EncodeJSON(dataObject(&r), 0, false)
					if err != nil {
						return err
					}
					out.Write(b)
					out.WriteByte('\n')
					continue
				}
				prm, _ := lemur.EncodeJSON(r.Prm.Without("transform"), 0, false)
				dur := ""
				if r.Duration != nil {
					dur = strconv.FormatInt(*r.Duration, 10)
				}
				row := []string{r.Task, r.Dataset, r.Metric, r.NN, strconv.Itoa(r.Epoch), lemur.FloatRepr(r.Accuracy), dur, r.Transform(), r.UID, string(prm)}
				if cw != nil {
					cw.Write(row)
				} else {
					writeTabRow(tw, row)
				}
			}
			if n == 0 && !asJSON && !asCSV {
				tw.Flush()
				fmt.Fprintln(g.stderr, "no rows match (nngpt data --summary lists what the workspace holds)")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Task, "task", "", "task, e.g. img-classification")
	fl.StringVar(&f.Dataset, "dataset", "", "dataset, e.g. cifar-10")
	fl.StringVar(&f.Metric, "metric", "", "metric, e.g. acc")
	fl.StringVar(&f.NN, "nn", "", "model name")
	fl.IntVar(&epoch, "epoch", 0, "epoch")
	fl.BoolVar(&f.BestOnly, "best", false, "only the best-accuracy rows per task, dataset, metric, nn and epoch")
	fl.IntVar(&f.MaxRows, "max-rows", 0, "stop after this many rows (0: all)")
	fl.BoolVar(&asJSON, "json", false, "one JSON object per line")
	fl.BoolVar(&asCSV, "csv", false, "CSV with a header row")
	fl.BoolVar(&summary, "summary", false, "counts per task, dataset and metric")
	return cmd
}

// dataObject is one row as LEMUR's data() returns it.
func dataObject(r *lemur.Record) lemur.Dict {
	var dur lemur.Value
	if r.Duration != nil {
		dur = *r.Duration
	}
	return lemur.Dict{
		{Key: "task", Value: r.Task}, {Key: "dataset", Value: r.Dataset}, {Key: "metric", Value: r.Metric},
		{Key: "nn", Value: r.NN}, {Key: "epoch", Value: int64(r.Epoch)}, {Key: "accuracy", Value: r.Accuracy},
		{Key: "duration", Value: dur}, {Key: "uid", Value: r.UID}, {Key: "id", Value: r.ID}, {Key: "prm", Value: r.Prm},
	}
}

func writeTabRow(tw *tabwriter.Writer, cols []string) {
	for i, c := range cols {
		if i > 0 {
			tw.Write([]byte{'\t'})
		}
		tw.Write([]byte(c))
	}
	tw.Write([]byte{'\n'})
}

func printSummary(out *bufio.Writer, rows []store.SummaryRow, asJSON, asCSV bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	header := []string{"task", "dataset", "metric", "models", "trials", "records", "max_epoch", "best_accuracy"}
	cells := func(r store.SummaryRow) []string {
		return []string{r.Task, r.Dataset, r.Metric, strconv.Itoa(r.Models), strconv.Itoa(r.Trials), strconv.Itoa(r.Records),
			strconv.Itoa(r.MaxEpoch), strconv.FormatFloat(r.BestAccuracy, 'f', 4, 64)}
	}
	if asCSV {
		cw := csv.NewWriter(out)
		cw.Write(header)
		for _, r := range rows {
			cw.Write(cells(r))
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	writeTabRow(tw, header)
	for _, r := range rows {
		writeTabRow(tw, cells(r))
	}
	return tw.Flush()
}
