// Package config is the effective configuration of nngpt's commands: built-in
// defaults, then the workspace's nngpt.yaml, then NNGPT_* environment
// variables, then command-line flags (flags win). It remembers where each
// value came from so `nngpt config` can say, and so a resumed loop can
// tell a value the user gave from a default.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"

	"github.com/nngpt/nngpt/loop"
)

// FileName is the configuration file inside a workspace.
const FileName = "nngpt.yaml"

// Config holds every setting: the loop's own (stored with each loop, see
// loop.Settings) and the machine's (where this process runs it: not
// stored, free to differ when a loop resumes elsewhere). The JSON names
// are the keys of nngpt.yaml and NNGPT_*.
type Config struct {
	loop.Settings
	Machine
}

// Machine are the settings of the machine a command runs on.
type Machine struct {
	Workers    int           `json:"workers"`     // trainings at once (0: fit the cores)
	Device     string        `json:"device"`      // cpu, cuda, cuda:N
	Python     string        `json:"python"`      // interpreter with torch ("": search)
	Sandbox    string        `json:"sandbox"`     // auto (bubblewrap when it works), bwrap (required) or none
	CacheDir   string        `json:"cache_dir"`   // worker code and prepared datasets ("": the user cache)
	TimeBudget time.Duration `json:"time_budget"` // stop starting work after this long (0: none)
	Executor   string        `json:"executor"`    // local (this machine) or slurm (a job per training)
	Cluster    Cluster       `json:"cluster"`
}

// Cluster says how the slurm executor submits jobs.
type Cluster struct {
	SharedDir string `json:"shared_dir"` // a folder every node sees at the same path (env NNGPT_CLUSTER_SHARED_DIR)
	Partition string `json:"partition"`  // sbatch --partition ("": the cluster's default)
	Account   string `json:"account"`    // sbatch --account
	Sbatch    string `json:"sbatch"`     // further sbatch options, space-separated (e.g. --qos=normal)
	GPUs      int    `json:"gpus"`       // GPUs per CUDA job (--gres=gpu:N; 0: 1)
}

// Default is the offline default: evolve on the built-in shapes dataset,
// 3 cycles of 8 candidates for 1 epoch each, on the CPU.
func Default() Config {
	return Config{Settings: loop.DefaultSettings(), Machine: Machine{Device: "cpu", Sandbox: "auto", Executor: "local"}}
}

// Source names where a value came from.
type Source string

const (
	FromDefault Source = "default"
	FromFile    Source = FileName
	FromEnv     Source = "env"
	FromFlag    Source = "flag"
)

// Loaded is the effective configuration and the origin of each key.
type Loaded struct {
	Config
	Origin map[string]Source // key (e.g. "llm.url") -> source
	File   string            // the file read, "" when there was none
	k      *koanf.Koanf
}

// FlagKeys maps command-line flag names to configuration keys for the
// flags whose name is not the key itself with '-' for '_' (--cache-dir is
// cache_dir).
var FlagKeys = map[string]string{
	"llm": "llm.url", "model": "llm.model", "shots": "llm.shots", "data-dir": "data.dir", "download": "data.download",
	"early-stop": "early_stop.enabled", "finetune-cmd": "finetune.command",
	"select": "llm.selection", "context-length": "llm.context_length", "max-tokens": "llm.max_tokens",
}

// EnvNames maps environment variables to keys beyond the NNGPT_<KEY> rule.
var EnvNames = map[string]string{"NNGPT_DATA": "data.dir", "NNGPT_CACHE": "cache_dir"}

// defaults is Default() as a koanf provider, through its JSON form so the
// keys are the JSON names.
type defaults struct{}

func (defaults) ReadBytes() ([]byte, error) { return nil, errors.New("config: defaults have no bytes") }
func (defaults) Read() (map[string]any, error) {
	b, err := json.Marshal(Default())
	if err != nil {
		return nil, err
	}
	var m map[string]any
	err = json.Unmarshal(b, &m)
	delete(m, "version") // the journal's, not a setting
	return m, err
}

// Load builds the configuration of the workspace at dir. flags may be nil;
// only flags the user set count.
func Load(dir string, flags *pflag.FlagSet) (*Loaded, error) {
	k := koanf.New(".")
	if err := k.Load(defaults{}, nil); err != nil {
		return nil, fmt.Errorf("defaults: %w", err)
	}
	l := &Loaded{Origin: map[string]Source{}, k: k}
	for _, key := range k.Keys() {
		l.Origin[key] = FromDefault
	}
	known := map[string]bool{}
	for _, key := range k.Keys() {
		known[key] = true
	}
	mark := func(src Source, keys []string) {
		for _, key := range keys {
			l.Origin[key] = src
		}
	}

	path := dir + string(os.PathSeparator) + FileName
	if _, err := os.Stat(path); err == nil {
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
			return nil, fmt.Errorf("%s: %w (fix the YAML, or delete the file and run `nngpt init`)", path, err)
		}
		for _, key := range fk.Keys() {
			if !known[key] {
				return nil, fmt.Errorf("%s: unknown setting %q (`nngpt config` lists the settings)", path, key)
			}
		}
		k.Merge(fk)
		mark(FromFile, fk.Keys())
		l.File = path
	}

	// NNGPT_LLM_URL -> llm.url, NNGPT_TIME_BUDGET -> time_budget: match the
	// variable against the known keys, since '_' is both a separator and
	// part of key names. Other NNGPT_* variables (NNGPT_WORKSPACE, ...)
	// belong to other parts of nngpt and are ignored here.
	envNames := map[string]string{}
	for key := range known {
		envNames["NNGPT_"+strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))] = key
	}
	for name, key := range EnvNames {
		envNames[name] = key
	}
	ek := koanf.New(".")
	err := ek.Load(env.Provider(".", env.Opt{
		Prefix: "NNGPT_",
		TransformFunc: func(k, v string) (string, any) {
			if key, ok := envNames[k]; ok && v != "" {
				return key, v
			}
			return "", nil
		},
	}), nil)
	if err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	k.Merge(ek)
	mark(FromEnv, ek.Keys())

	if flags != nil {
		fk := koanf.New(".")
		err := fk.Load(posflag.ProviderWithFlag(flags, ".", nil, func(f *pflag.Flag) (string, any) {
			if !f.Changed {
				return "", nil
			}
			key := strings.ReplaceAll(f.Name, "-", "_")
			if mapped, ok := FlagKeys[f.Name]; ok {
				key = mapped
			}
			if !known[key] {
				return "", nil // a flag of the command, not a setting
			}
			return key, posflag.FlagVal(flags, f)
		}), nil)
		if err != nil {
			return nil, fmt.Errorf("flags: %w", err)
		}
		k.Merge(fk)
		mark(FromFlag, fk.Keys())
	}
	dc := &mapstructure.DecoderConfig{
		DecodeHook: mapstructure.ComposeDecodeHookFunc(mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.TextUnmarshallerHookFunc()),
		WeaklyTypedInput: true, Squash: true,
	}
	if err := k.UnmarshalWithConf("", &l.Config, koanf.UnmarshalConf{Tag: "json", DecoderConfig: dc}); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// Validate reports settings no run can use.
func (c *Config) Validate() error {
	if err := c.Settings.Validate(); err != nil {
		return err
	}
	switch c.Sandbox {
	case "auto", "bwrap", "none":
	default:
		return fmt.Errorf("sandbox = %q: want auto (bubblewrap when it works), bwrap (required) or none", c.Sandbox)
	}
	switch {
	case c.Executor != "local" && c.Executor != "slurm":
		return fmt.Errorf("executor = %q: want local or slurm", c.Executor)
	case c.Executor == "slurm" && c.Cluster.SharedDir == "":
		return fmt.Errorf("executor slurm needs cluster.shared_dir: a folder every node sees at the same path (env NNGPT_CLUSTER_SHARED_DIR)")
	}
	if c.Workers < 0 {
		return fmt.Errorf("workers = %d: want 0 (fit the cores) or more", c.Workers)
	}
	return nil
}

// Explicit lists the keys whose value the user gave (file, environment or
// flag), sorted.
func (l *Loaded) Explicit() []string {
	var keys []string
	for k, src := range l.Origin {
		if src != FromDefault {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// ForLoop checks the settings the user gave against those a resumed loop
// was started with and returns the settings to run it with: the stored
// ones, with the portable keys (loop.Portable) the user gave taken anew.
// A given value that contradicts a stored one is refused, naming both
// values and the two ways out.
func (l *Loaded) ForLoop(loopID string, stored loop.Settings) (loop.Settings, error) {
	given := l.Explicit()
	var compared []string
	for _, k := range given {
		if !slices.Contains(loop.Portable, k) {
			compared = append(compared, k)
		}
	}
	if d := stored.Diff(l.Settings, compared); len(d) > 0 {
		var parts []string
		for _, x := range d {
			parts = append(parts, fmt.Sprintf("%s %s contradicts its %s = %s", l.describe(x.Key), x.Want, x.Key, x.Stored))
		}
		return stored, fmt.Errorf("loop %s is unfinished and resumes with the settings it started with: %s. "+
			"Pass --new to start a new loop with your settings, or drop them to resume %s", loopID, strings.Join(parts, "; "), loopID)
	}
	return stored.WithPortable(l.Settings, given), nil
}

// describe names where a key's value came from, as the user wrote it.
func (l *Loaded) describe(key string) string {
	switch l.Origin[key] {
	case FromFlag:
		for flag, k := range FlagKeys {
			if k == key {
				return "--" + flag
			}
		}
		return "--" + strings.NewReplacer("_", "-", ".", "-").Replace(key)
	case FromEnv:
		for name, k := range EnvNames {
			if k == key {
				return name
			}
		}
		return "NNGPT_" + strings.ToUpper(strings.NewReplacer(".", "_").Replace(key))
	case FromFile:
		return l.File + ": " + key
	}
	return key
}

// Setting is one key of the effective configuration.
type Setting struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source Source `json:"source"`
}

// Effective lists every key with its value and origin, sorted by key.
func (l *Loaded) Effective() []Setting {
	keys := l.k.Keys()
	sort.Strings(keys)
	out := make([]Setting, 0, len(keys))
	for _, key := range keys {
		out = append(out, Setting{Key: key, Value: l.k.Get(key), Source: l.Origin[key]})
	}
	return out
}
