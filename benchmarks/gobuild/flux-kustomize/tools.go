//go:build tools

// Package tools records the binary built from this module; it is never
// compiled (the "tools" build tag is never set).
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
)
