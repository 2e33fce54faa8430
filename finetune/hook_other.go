//go:build !unix

package finetune

import "os/exec"

// Without process groups only sh itself is stopped on cancel.
func ownGroup(*exec.Cmd) {}

func killGroup(*exec.Cmd) {}
