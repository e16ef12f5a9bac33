package result

// Prefix starts the test-output line that carries a result document.
const Prefix = "cxload-result: "

// ProgressPrefix starts a progress line, which a reader of the test output
// passes over.
const ProgressPrefix = "cxload-progress: "
