package password

func (p Params) WithDefaultsForTest() Params { return p.withDefaults() }
