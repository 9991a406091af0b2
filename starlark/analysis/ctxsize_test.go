package analysis

import (
	"testing"
	"unsafe"
)

// TestRuleContextSize checks that a ruleContext fits the allocator's
// 240-byte size class: analysis makes one for every target (100,000 at
// the scale bld is measured at); at 456 bytes it took 480 each, with its
// structs' sync.Onces 448, with a method value per name 352.
func TestRuleContextSize(t *testing.T) {
	if got := unsafe.Sizeof(ruleContext{}); got > 240 {
		t.Errorf("a ruleContext takes %d bytes, want at most 240", got)
	}
}
