using ApprovalStudio.Web.Features.Account;
using ApprovalStudio.Web.Features.ApiKeys;
using ApprovalStudio.Web.Features.Cluster;
using ApprovalStudio.Web.Features.DeepLinks;
using ApprovalStudio.Web.Features.Demo;
using ApprovalStudio.Web.Features.Dispatch;
using ApprovalStudio.Web.Features.Executions;
using ApprovalStudio.Web.Features.Health;
using ApprovalStudio.Web.Features.Hub;
using ApprovalStudio.Web.Features.Inbox;
using ApprovalStudio.Web.Features.Notifications;
using ApprovalStudio.Web.Features.People;
using ApprovalStudio.Web.Features.Resume;
using ApprovalStudio.Web.Features.ResumeFrom;
using ApprovalStudio.Web.Features.Retention;
using ApprovalStudio.Web.Features.Slack;
using ApprovalStudio.Web.Features.Tasks;
using ApprovalStudio.Web.Features.Webhooks;
using ApprovalStudio.Web.Features.Workflows;
using ApprovalStudio.Web.Infrastructure;
using ApprovalStudio.Web.Infrastructure.Auth;
using ApprovalStudio.Web.Infrastructure.Errors;
using ApprovalStudio.Web.Infrastructure.Faults;
using ApprovalStudio.Web.Infrastructure.Idempotency;
using ApprovalStudio.Web.Infrastructure.Persistence;
using ApprovalStudio.Web.Infrastructure.Security;
using ApprovalStudio.Web.Infrastructure.Telemetry;
using Scalar.AspNetCore;

if (args is [IssueTokenCommand.Name, .. var tokenArgs])
{
    return IssueTokenCommand.Run(tokenArgs, Console.Out, Console.Error);
}

var builder = WebApplication.CreateBuilder(args);

// `dotnet run` starts in Production (no launch profile): without this, Blazor's and MudBlazor's files answer empty
// from a build output. A published output has no static-web-assets manifest, and this does nothing there.
builder.WebHost.UseStaticWebAssets();

// Request-start lines carry query strings (?secret=, ?access_token=): never log them, whatever the configuration says.
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
// Operators read the console (journald, docker logs): every line says when, in UTC.
builder.Logging.AddSimpleConsole(o =>
{
    o.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z' ";
    o.UseUtcTimestamp = true;
});
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddOptions<AppOptions>().BindConfiguration(AppOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
// Crash tests' fault points (Faults:KillAt); unarmed outside tests.
builder.Services.AddOptions<FaultOptions>().BindConfiguration(FaultOptions.SectionName);
builder.Services.AddSingleton<FaultPoints>();
builder.Services.AddProblemDetails();
// A parameter that does not bind (page=abc, page=99999999999) throws, so ProblemExceptionHandler answers 400 naming it
// (by default it is a bodiless 400 outside Development).
builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
builder.Services.AddApiDocument();

builder.AddTelemetry();
builder.AddPersistence();
builder.AddAuth();
builder.AddRateLimits();
builder.AddForwardedHeaders();
builder.AddIdempotencyKeys();
builder.AddWorkflows();
// Before the worker: hosted services stop in reverse order, so "stopped" is written after the worker has drained.
builder.AddCluster();
builder.AddExecutions();
builder.AddResume();
builder.AddExecutionHub();
builder.AddPeople();
builder.AddInbox();
builder.AddNotifications();
builder.AddSlack();
builder.AddRetention();

var app = builder.Build();
await app.Services.MigrateDatabaseAsync();
await app.Services.SeedDemoDataAsync();

app.UseForwardedHeadersWhenEnabled();
app.UseSecurityHeaders();
app.UseExceptionHandler();
app.UsePrometheusScraping();
app.UseClientAssets();
app.UseErrorStatusPages();
app.UseAuthentication();
// After authentication (API buckets are per tenant and actor), before authorization (a refused caller spends a token too).
app.UseRateLimiter();
app.UseAuthorization();
app.UseAntiforgery();

app.MapOpenApi();
app.MapScalarApiReference();
app.MapHealth();
app.MapWorkflows();
app.MapExecutions();
app.MapResume();
app.MapTasks();
app.MapWebhooks();
app.MapResumeFrom();
app.MapDispatch();
app.MapApiKeys();
app.MapDeepLinks();
app.MapMessageTemplates();
app.MapSlack();
app.MapExecutionHub();
app.MapPeople();
app.MapAccount();
app.MapInbox();

await app.RunAsync();
return 0;

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
