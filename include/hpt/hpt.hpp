#pragma once
/// @file hpt.hpp
/// @brief Everything in hpt's core: search spaces, the Trainable concept, search strategies,
/// early-stopping policies, studies and results. Needs only the C++20 standard library.
/// Optional parts are included on their own: <hpt/io/json.hpp> (nlohmann-json),
/// <hpt/models/...> (Eigen).

#include "hpt/condition.hpp"
#include "hpt/config.hpp"
#include "hpt/console_reporter.hpp"
#include "hpt/direction.hpp"
#include "hpt/input_excerpt.hpp"
#include "hpt/io/csv.hpp"
#include "hpt/metrics.hpp"
#include "hpt/observer.hpp"
#include "hpt/parameter.hpp"
#include "hpt/random.hpp"
#include "hpt/schedule.hpp"
#include "hpt/search_space.hpp"
#include "hpt/stopping/divergence.hpp"
#include "hpt/stopping/median_stopping.hpp"
#include "hpt/stopping/patience.hpp"
#include "hpt/stopping/policy.hpp"
#include "hpt/stopping/prechelt.hpp"
#include "hpt/stopping/threshold.hpp"
#include "hpt/strategies/asha.hpp"
#include "hpt/strategies/fixed_budget.hpp"
#include "hpt/strategies/hyperband.hpp"
#include "hpt/strategies/strategy.hpp"
#include "hpt/strategies/successive_halving.hpp"
#include "hpt/study.hpp"
#include "hpt/throughput.hpp"
#include "hpt/trainable.hpp"
#include "hpt/trial.hpp"
#include "hpt/trial_result.hpp"
#include "hpt/trial_status.hpp"
#include "hpt/tune.hpp"
#include "hpt/typed_space.hpp"
#include "hpt/value.hpp"
