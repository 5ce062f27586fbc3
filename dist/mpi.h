/// \file
/// mpi.h — the MPI session of a process: MPI_Init_thread when it starts, MPI_Finalize when it
/// ends, owned by one RAII object that apps/main.cpp creates (never a static), and the
/// Communicator of all its processes (MPI_COMM_WORLD).
///
/// MPI is started only when the process was launched by mpirun (Open MPI sets
/// OMPI_COMM_WORLD_SIZE; PMIx launchers PMIX_RANK); a plain `kizuki …` never touches MPI and
/// gets a SingleCommunicator, so the program works the same, and starts as fast, without
/// mpirun. Built without MPI (meson -Dmpi=disabled, or no libopenmpi-dev), a launch by
/// mpirun with more than one process is refused with a message saying so, rather than
/// letting N copies each run the whole job into the same files.
///
/// Thread level MPI_THREAD_FUNNELED: only the main thread calls MPI; the OpenMP threads of
/// oneDNN, OpenBLAS and kizuki's kernels never do.
#pragma once

#include <memory>

#include "dist/communicator.h"

namespace kz {

/// Whether this build of kizuki has MPI (meson option -Dmpi, found libopenmpi-dev).
bool mpi_built();

/// MPI for the life of the program: created first thing in main(), it starts MPI when mpirun
/// launched the process and finalises it at the end; otherwise it is a group of one.
class MpiSession {
 public:
  MpiSession(int& argc, char**& argv);  ///< throws kz::Error "[dist] …" when it cannot start
  ~MpiSession();                         ///< MPI_Finalize, when MPI was started
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  Communicator& world() { return *world_; }  ///< every process mpirun started (or this one)
  bool running_mpi() const { return started_; }  ///< launched by mpirun, MPI started

 private:
  std::unique_ptr<Communicator> world_;
  bool started_ = false;
};

}  ///< namespace kz
