"""HTTP routes (thin: validate, call one function, shape the response)."""
