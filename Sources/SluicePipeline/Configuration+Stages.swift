import SluiceConfig


/// The stages' settings from the configuration file (shared by `run`, `replay` and `serve`).
extension Configuration {
    public var anomalyConfiguration: AnomalyDetector.Configuration {
        var c = AnomalyDetector.Configuration()
        c.statistics = anomaly.statistics
        c.metrics = anomaly.metrics
        c.warmup = anomaly.warmup
        c.threshold = anomaly.threshold
        return c
    }

    public var tokenMeterConfiguration: TokenMeter.Configuration {
        var c = TokenMeter.Configuration()
        for (model, price) in tokens.pricing {
            c.prices[model] = .init(prompt: price.promptMicroUSDPerMillion, completion: price.completionMicroUSDPerMillion, cached: price.cachedMicroUSDPerMillion)
        }
        for (tenant, budget) in tokens.budgets {
            c.budgets[tenant] = .init(monthlyTokens: budget.monthlyTokens, monthlyMicroUSD: budget.monthlyMicroUSD, thresholds: budget.thresholds)
        }
        c.dedupeWindow = tokens.dedupeWindow.microseconds
        c.dedupeCapacity = tokens.dedupeCapacity
        c.forecastWindow = tokens.forecastWindow.microseconds
        return c
    }
}
