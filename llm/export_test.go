package llm

// SetJitter replaces the backoff jitter source (0: no jitter).
func SetJitter(o *OpenAI, f func() float64) { o.rnd = f }
