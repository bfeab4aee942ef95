//go:build tools

// Package tools records the binaries built from this module; it is never
// compiled (the "tools" build tag is never set).
package tools

import (
	_ "github.com/argoproj/argo-rollouts/cmd/rollouts-controller"
)
