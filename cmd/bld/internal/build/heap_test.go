package build

import "testing"

func TestGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{1 * mib, 400},   // 16 MiB of headroom would be 1600%
		{4 * mib, 400},   // exactly 4 times
		{16 * mib, 100},  // 16 MiB on 16
		{32 * mib, 50},   // 16 MiB on 32
		{64 * mib, 25},   // a quarter from here on
		{1024 * mib, 25}, //
		{48 * mib, 33},   // rounded down
	} {
		if got := gcPercent(tt.live); got != tt.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", tt.live/mib, got, tt.want)
		}
	}
}
