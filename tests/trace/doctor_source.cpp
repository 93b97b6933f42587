// The doctor is part of the CLI's sources; this translation unit builds it into the test binary.
#include "../../app/doctor.cpp"
