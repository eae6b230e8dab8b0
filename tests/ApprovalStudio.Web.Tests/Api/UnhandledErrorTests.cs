using System.Data.Common;
using System.Net;
using ApprovalStudio.Web.Infrastructure.Persistence;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace ApprovalStudio.Web.Tests.Api;

/// <summary>A 500 is logged with the route template and the trace id the problem body carries, never the path or the body.</summary>
public sealed class UnhandledErrorTests
{
    [Fact]
    public async Task A_500_is_logged_with_its_route_template_and_trace_id_and_without_the_path_or_body()
    {
        var logs = new LogCapture();
        await using var host = await AppHost.StartAsync(services: s =>
        {
            logs.Install(s);
            s.ConfigureDbContext<SqliteAppDbContext>(o => o.AddInterceptors(new FailingTaskRead()));
        });
        const string resId = "secret-looking-res-id-0123456789";

        var (status, problem, _) = await AppHost.SendAsync(host.Client(host.Token("ann", ["ops"])), HttpMethod.Get, $"/api/tasks/{resId}");

        Assert.Equal(HttpStatusCode.InternalServerError, status);
        var traceId = (string)problem!["traceId"]!;
        var line = Assert.Single(logs.Messages, m => m.Contains("Unhandled error", StringComparison.Ordinal));
        Assert.Contains($"Unhandled error on GET /api/tasks/{{resId}} (trace {traceId})", line, StringComparison.Ordinal);
        Assert.DoesNotContain(resId, line, StringComparison.Ordinal);
    }

    /// <summary>Makes every read of a task fail, as a broken database would.</summary>
    private sealed class FailingTaskRead : DbCommandInterceptor
    {
        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
            DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default) =>
            command.CommandText.Contains("FROM \"Tasks\"", StringComparison.Ordinal)
                ? throw new InvalidOperationException("The disk is on fire.")
                : ValueTask.FromResult(result);
    }
}
