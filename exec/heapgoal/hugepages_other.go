//go:build !linux

package heapgoal

// adviceGivesHugePages reports false: huge pages on advice are Linux's.
func adviceGivesHugePages() bool { return false }

// adviseHugePages does nothing off Linux.
func adviseHugePages([]byte) bool { return false }
