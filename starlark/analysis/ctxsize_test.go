package analysis

import (
	"testing"
	"unsafe"
)

// TestRuleContextSize checks that a ruleContext fits the allocator's
// 448-byte size class: analysis makes one for every target (100,000 at
// the scale bld is measured at), and at 456 bytes it took 480 each.
func TestRuleContextSize(t *testing.T) {
	if got := unsafe.Sizeof(ruleContext{}); got > 448 {
		t.Errorf("a ruleContext takes %d bytes, want at most 448", got)
	}
}
