//go:build !linux

package cache

// oNoATime is Linux's O_NOATIME, which other systems do not have.
const oNoATime = 0
