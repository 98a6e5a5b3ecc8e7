package catalog

// PinLimit is Pin holding at most limit files open, for tests.
var PinLimit = pin
