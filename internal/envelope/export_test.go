package envelope

// EpochFromKey and Key let tests compare epochs and make one of a key.
func EpochFromKey(key []byte) (*Epoch, error) { return epochFromKey(key) }

func (ep *Epoch) Key() []byte { return append([]byte(nil), ep.key...) }
