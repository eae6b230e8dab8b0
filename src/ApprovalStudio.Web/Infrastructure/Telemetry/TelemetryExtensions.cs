using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ApprovalStudio.Web.Infrastructure.Telemetry;

/// <summary>The <c>Telemetry</c> section.</summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    /// <summary>The <c>service.name</c> of every span and metric (<c>OTEL_SERVICE_NAME</c> wins when set).</summary>
    [Required]
    public string ServiceName { get; set; } = "approval-studio";

    /// <summary>
    /// Where traces and metrics go over OTLP (<c>http://collector:4317</c>, gRPC; <c>OtlpProtocol</c> <c>HttpProtobuf</c>
    /// for :4318). Unset: <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> when that is set, else nothing is pushed.
    /// </summary>
    public Uri? OtlpEndpoint { get; set; }

    public OpenTelemetry.Exporter.OtlpExportProtocol OtlpProtocol { get; set; } = OpenTelemetry.Exporter.OtlpExportProtocol.Grpc;

    /// <summary>Record spans. Unset: on when there is an OTLP endpoint to send them to (spans nobody reads cost each request).</summary>
    public bool? Tracing { get; set; }

    /// <summary>The Prometheus scraping endpoint.</summary>
    public PrometheusOptions Prometheus { get; set; } = new();

    /// <summary>How often the queue gauges (depth, age, dead-lettered) read the queue.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan QueueSampleInterval { get; set; } = TimeSpan.FromSeconds(10);

    public bool OtlpConfigured(IConfiguration configuration) =>
        OtlpEndpoint is not null || !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    public sealed class PrometheusOptions
    {
        /// <summary>Serve the metrics in Prometheus' text format at <see cref="Path"/>, without sign-in (as <c>/health</c>).</summary>
        public bool Enabled { get; set; } = true;

        [Required, RegularExpression("^/[A-Za-z0-9/_.-]*$", ErrorMessage = "Telemetry:Prometheus:Path must be a path starting with '/'.")]
        public string Path { get; set; } = "/metrics";

        /// <summary>
        /// Serve it only to requests for this host or port (<c>*:9464</c>: add <c>http://+:9464</c> to <c>Urls</c> and keep
        /// that port off the load balancer). Unset: on every address the app listens on.
        /// </summary>
        public string? RequireHost { get; set; }
    }
}

/// <summary>
/// OpenTelemetry for the app: spans of ASP.NET Core, HttpClient, EF Core, Npgsql, SignalR hub calls and our own
/// (<see cref="AppTelemetry"/>); metrics of ASP.NET Core (Kestrel, SignalR connections included), HttpClient, the .NET runtime
/// and our own. Pushed over OTLP when an endpoint is configured, and scrapeable by Prometheus.
/// </summary>
public static class TelemetryExtensions
{
    /// <summary>Marks an outgoing request whose URL path is a credential (a Slack response_url): its spans keep only scheme and host.</summary>
    public static readonly HttpRequestOptionsKey<bool> SecretPath = new("ApprovalStudio.SecretPath");

    public static IHostApplicationBuilder AddTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        var settings = builder.Configuration.GetSection(TelemetryOptions.SectionName).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var otlp = settings.OtlpConfigured(builder.Configuration);
        builder.Services.AddSingleton<QueueGauges>();
        builder.Services.AddHostedService(s => s.GetRequiredService<QueueGauges>());
        builder.Services.AddSingleton<AppTelemetry>();

        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(settings.ServiceName, serviceInstanceId: $"{Environment.MachineName}-{Environment.ProcessId}"))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(AppTelemetry.Name)
                    .AddAspNetCoreInstrumentation()
                    .AddMeter("Microsoft.AspNetCore.Http.Connections", "Microsoft.AspNetCore.SignalR.Server")
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation();
                if (settings.Prometheus.Enabled)
                {
                    metrics.AddPrometheusExporter();
                }
            });
        if (settings.Tracing ?? otlp)
        {
            telemetry.WithTracing(tracing => tracing
                .SetSampler(new NoOrphanClientSpans())
                .AddSource(AppTelemetry.Name)
                .AddSource("Npgsql")
                .AddSource("Microsoft.AspNetCore.SignalR.Server")
                .AddAspNetCoreInstrumentation(o =>
                {
                    o.Filter = context => !context.Request.Path.StartsWithSegments(settings.Prometheus.Path)
                        && !context.Request.Path.StartsWithSegments("/health");
                    // The path may hold a capability (a task's resId, a deep link's token): spans keep the route's template.
                    o.EnrichWithHttpResponse = (activity, response) =>
                    {
                        if (response.HttpContext.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } template })
                        {
                            activity.SetTag("url.path", template);
                        }
                    };
                })
                .AddHttpClientInstrumentation(o => o.EnrichWithHttpRequestMessage = (activity, request) =>
                {
                    if (request.Options.TryGetValue(SecretPath, out var secret) && secret && request.RequestUri is { } uri)
                    {
                        activity.SetTag("url.full", $"{uri.Scheme}://{uri.Authority}/[redacted]");
                    }
                })
                .AddEntityFrameworkCoreInstrumentation());
        }

        if (otlp)
        {
            telemetry.UseOtlpExporter(settings.OtlpProtocol, settings.OtlpEndpoint ?? new Uri(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]!));
        }

        return builder;
    }

    /// <summary>The Prometheus scraping endpoint, when enabled: anonymous, and on <c>RequireHost</c> only when that is set.</summary>
    public static IEndpointRouteBuilder MapTelemetry(this IEndpointRouteBuilder app)
    {
        var settings = app.ServiceProvider.GetRequiredService<IOptions<TelemetryOptions>>().Value.Prometheus;
        if (settings.Enabled)
        {
            var endpoint = app.MapPrometheusScrapingEndpoint(settings.Path).AllowAnonymous().WithTags("Telemetry");
            if (settings.RequireHost is { Length: > 0 } host)
            {
                endpoint.RequireHost(host);
            }
        }

        return app;
    }
}

/// <summary>
/// Keeps every trace that starts with a request, a queued step or a message sent, and drops the database and HTTP calls made
/// outside any of them (the worker's and the dispatcher's polls, leases, heartbeats: a root span each, several a second).
/// A span with a parent follows its parent's decision.
/// </summary>
public sealed class NoOrphanClientSpans : Sampler
{
    private static readonly SamplingResult Keep = new(SamplingDecision.RecordAndSample);
    private static readonly SamplingResult Drop = new(SamplingDecision.Drop);

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        var parent = samplingParameters.ParentContext;
        if (parent.TraceId != default)
        {
            return parent.TraceFlags.HasFlag(System.Diagnostics.ActivityTraceFlags.Recorded) ? Keep : Drop;
        }

        return samplingParameters.Kind == System.Diagnostics.ActivityKind.Client ? Drop : Keep;
    }
}
