package transcript

// SetBatchSignatures lets the benchmark measure its baseline: every
// signature checked alone.
func SetBatchSignatures(on bool) { batchSignatures = on }
