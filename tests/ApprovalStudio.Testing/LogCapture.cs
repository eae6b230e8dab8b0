using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace ApprovalStudio.Testing;

/// <summary>Every log line of the app (category, message, exception), for tests that prove a secret never reaches the logs.</summary>
public sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<string> Messages { get; } = new();

    /// <summary>Settings that turn every category up to Trace.</summary>
    public static Dictionary<string, string?> Everything() => new()
    {
        ["Logging:LogLevel:Default"] = "Trace",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
        ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Trace",
        ["Logging:LogLevel:System.Net.Http.HttpClient"] = "Trace",
        ["Logging:LogLevel:System.Net.Http.HttpClient.SlackClient"] = "Trace",
    };

    /// <summary>Makes this the app's only log provider (at Trace the console would flood the test output).</summary>
    public void Install(IServiceCollection services)
    {
        services.RemoveAll<ILoggerProvider>();
        services.AddSingleton<ILoggerProvider>(this);
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            capture.Messages.Enqueue($"{category}: {formatter(state, exception)} {exception}");
    }
}
