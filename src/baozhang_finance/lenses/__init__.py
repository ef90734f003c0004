"""Three lenses on one simulation: bank credit, fiscal hidden debt, SOE returns. Each reads a Result."""
