package reapi

import "testing"

// FuzzUnmarshalActionResult: cached action results are read back from
// disk; decoding never panics, and what decodes re-encodes to a value that
// decodes the same.
func FuzzUnmarshalActionResult(f *testing.F) {
	f.Add((&ActionResult{}).Marshal())
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := UnmarshalActionResult(data)
		if err != nil {
			return
		}
		if _, err := UnmarshalActionResult(r.Marshal()); err != nil {
			t.Fatalf("re-encoding of %x does not decode: %v", data, err)
		}
	})
}
