using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using OpenTelemetry.Trace;

namespace ApprovalStudio.E2E;

/// <summary>
/// An answer given in the inbox is traced like one given through the API: its pass through the pipeline is a trace of its
/// own (not a child of the hours-long <c>/_blazor</c> connection, nor dropped with Blazor's circuit calls), and the worker
/// step that continues the run belongs to it.
/// </summary>
public sealed class InboxTraceTests(Browser browser) : IClassFixture<Browser>
{
    [Fact]
    public async Task An_inbox_answer_and_the_step_it_queues_are_one_trace_of_their_own()
    {
        var spans = new List<Activity>();
        await using var host = await AppHost.StartAsync(settings: new Dictionary<string, string?> { ["Telemetry:Tracing"] = "true" },
            services: s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(new LockedCollection<Activity>(spans))));
        await host.CreateWorkflowAsync("""
            {"key":"ok","start":"ask","nodes":[{"id":"ask","type":"approval","title":"Approve the plan","assignees":{"users":["mia"]}}],"edges":[]}
            """);
        await Session.AddPersonAsync(host, "mia", "managers");
        var executionId = await host.StartRunAsync("ok");
        var resId = await host.WaitForTaskAsync(executionId);

        var page = await Session.SignInAsync(browser, host, "mia", $"/tasks/{resId}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await host.WaitForAsync(executionId, s => (string?)s["status"] == "Completed");

        var (resume, step) = await Poll.UntilAsync(() =>
        {
            host.Services.GetRequiredService<TracerProvider>().ForceFlush();
            lock (spans)
            {
                var r = spans.FirstOrDefault(s => s.DisplayName == "resume" && (string?)s.GetTagItem("approvalstudio.execution_id") == executionId);
                var st = spans.FirstOrDefault(s => s.DisplayName == "step Resume" && (string?)s.GetTagItem("approvalstudio.execution_id") == executionId);
                return Task.FromResult(r is not null && st is not null ? Tuple.Create(r, st) : null);
            }
        }, TimeSpan.FromSeconds(20), () => "no resume and step spans for the inbox answer");

        Assert.Equal("inbox", resume.GetTagItem("approvalstudio.channel"));
        lock (spans)
        {
            Assert.True(resume.ParentSpanId == default,
                $"the resume span's parent: {spans.FirstOrDefault(s => s.SpanId == resume.ParentSpanId)?.DisplayName ?? resume.ParentSpanId.ToString()}");
        }

        Assert.Equal(resume.TraceId, step.TraceId);
        Assert.Equal(resume.SpanId, step.ParentSpanId);
    }
}
