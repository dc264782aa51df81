"""The LUS care-transition workflow (SFS 2017:612): notices, obligations, clocks, reports."""
