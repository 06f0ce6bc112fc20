"""Demo and benchmark traffic: a deterministic model of a product site's visitors."""
