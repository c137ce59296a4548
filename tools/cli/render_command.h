// `optimus job render JOB`: the job's Airflow DAG, compiled locally.
#pragma once

#include <ostream>

namespace optimus::cli {

int RunJobRenderCommand(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace optimus::cli
