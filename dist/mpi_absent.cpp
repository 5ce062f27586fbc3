// mpi_absent.cpp — the MPI session of a build without MPI (mpi.h): always one process.
#include <cstdlib>
#include <string>

#include "dist/mpi.h"

namespace kz {

bool mpi_built() { return false; }

MpiSession::MpiSession(int&, char**&) : world_(std::make_unique<SingleCommunicator>()) {
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  KZ_CHECK(size == nullptr || std::string(size) == "1", "dist",
           "launched by mpirun with {} processes, but this kizuki was built without MPI "
           "(meson -Dmpi=disabled, or libopenmpi-dev missing when it was configured): install "
           "libopenmpi-dev (scripts/install-deps.sh) and rebuild",
           size);
}

MpiSession::~MpiSession() = default;

}  // namespace kz
