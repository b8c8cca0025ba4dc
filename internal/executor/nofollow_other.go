//go:build !unix

package executor

const noFollow = 0
