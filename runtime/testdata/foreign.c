/* A shared library that is not an adc artifact. */
__attribute__((visibility("default"))) int foreign_function(void) { return 42; }
