//go:build tools

// Package tools records the binaries built from this module; it is never
// compiled (the "tools" build tag is never set).
package tools

import (
	_ "github.com/bitnami/sealed-secrets/cmd/controller"
	_ "github.com/bitnami/sealed-secrets/cmd/kubeseal"
)
