using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/ApprovalStudio.Benchmarks -- --filter '*' [--job short]
BenchmarkSwitcher.FromAssembly(typeof(ApprovalStudio.Benchmarks.InboxBenchmarks).Assembly).Run(args);
