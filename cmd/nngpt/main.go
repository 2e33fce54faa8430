// Command nngpt is an LLM-driven AutoML engine for computer-vision networks
// built on the LEMUR dataset.
package main

import (
	"os"

	"github.com/nngpt/nngpt/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
