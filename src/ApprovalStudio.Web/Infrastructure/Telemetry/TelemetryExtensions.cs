using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ApprovalStudio.Web.Infrastructure.Telemetry;

/// <summary>The <c>Telemetry</c> section.</summary>
public sealed class TelemetryOptions : IValidatableObject
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

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Prometheus.Path is null || !System.Text.RegularExpressions.Regex.IsMatch(Prometheus.Path, "^/[A-Za-z0-9/_.-]*$"))
        {
            yield return new ValidationResult("Telemetry:Prometheus:Path must be a path starting with '/'.", ["Prometheus.Path"]);
        }

        if (Prometheus.Port is < 1 or > 65535)
        {
            yield return new ValidationResult("Telemetry:Prometheus:Port must be a TCP port (1-65535).", ["Prometheus.Port"]);
        }
    }

    public sealed class PrometheusOptions
    {
        /// <summary>
        /// Serve the metrics in Prometheus' text format at <see cref="Path"/>, without sign-in. Off by default: they tell
        /// anyone who asks how busy the tenants are. Turn it on with <see cref="Port"/>.
        /// </summary>
        public bool Enabled { get; set; }

        public string Path { get; set; } = "/metrics";

        /// <summary>
        /// Serve it only on connections to this local port (add <c>http://+:9464</c> to <c>Urls</c> and keep the port off the
        /// load balancer): the port a connection arrived on, not its Host header, which a caller chooses. Unset: every port.
        /// </summary>
        public int? Port { get; set; }
    }
}

/// <summary>
/// OpenTelemetry for the app: spans of ASP.NET Core, HttpClient, EF Core, Npgsql, SignalR hub calls and our own
/// (<see cref="AppTelemetry"/>); metrics of ASP.NET Core (Kestrel, SignalR connections included), HttpClient, the .NET runtime
/// and our own. Pushed over OTLP when an endpoint is configured, and scrapeable by Prometheus.
/// </summary>
public static class TelemetryExtensions
{
    /// <summary>
    /// Marks an outgoing request whose URL may hold a credential or personal data (a Slack response_url, an http node's URL
    /// made from a run's data): its spans keep only scheme and host. The http node (in the engine library) sets it by name.
    /// </summary>
    public static readonly HttpRequestOptionsKey<bool> SecretPath = new(ApprovalStudio.Workflows.Execution.HttpNodeInvoker.RedactUrlOption);

    public static IHostApplicationBuilder AddTelemetry(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TelemetryOptions>().BindConfiguration(TelemetryOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        var settings = builder.Configuration.GetSection(TelemetryOptions.SectionName).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var otlp = settings.OtlpConfigured(builder.Configuration);
        builder.Services.AddSingleton<QueueGauges>();
        builder.Services.AddHostedService(s => s.GetRequiredService<QueueGauges>());
        builder.Services.AddSingleton<AppTelemetry>();

        var telemetry = builder.Services.AddOpenTelemetry()
            // OTEL_SERVICE_NAME, when set, names the service (the default resource reads it); else the configured name.
            .ConfigureResource(r =>
            {
                if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_SERVICE_NAME"]))
                {
                    r.AddService(settings.ServiceName, serviceInstanceId: $"{Environment.MachineName}-{Environment.ProcessId}");
                }
            })
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

                if (otlp)
                {
                    metrics.AddOtlpExporter(o => Otlp(o, settings));
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
                .AddEntityFrameworkCoreInstrumentation()
                .AddOtlpExporterWhen(otlp, settings));
        }

        // Logs stay with the app's logging providers: they are not exported (UseOtlpExporter would turn that on, and a
        // warning's exception may carry an email address).
        return builder;
    }

    private static TracerProviderBuilder AddOtlpExporterWhen(this TracerProviderBuilder tracing, bool otlp, TelemetryOptions settings) =>
        otlp ? tracing.AddOtlpExporter(o => Otlp(o, settings)) : tracing;

    /// <summary>The configured endpoint and protocol; without one, the exporter's own reading of the OTEL_EXPORTER_OTLP_* variables.</summary>
    private static void Otlp(OpenTelemetry.Exporter.OtlpExporterOptions options, TelemetryOptions settings)
    {
        if (settings.OtlpEndpoint is { } endpoint)
        {
            options.Endpoint = endpoint;
            options.Protocol = settings.OtlpProtocol;
        }
    }

    /// <summary>The Prometheus scraping endpoint, when enabled: anonymous, at its path, on its port only when one is set.</summary>
    public static IApplicationBuilder UsePrometheusScraping(this IApplicationBuilder app)
    {
        var settings = app.ApplicationServices.GetRequiredService<IOptions<TelemetryOptions>>().Value.Prometheus;
        if (settings.Enabled)
        {
            var path = new PathString(settings.Path);
            app.UseOpenTelemetryPrometheusScrapingEndpoint(context =>
                context.Request.Path == path && (settings.Port is not { } port || context.Connection.LocalPort == port));
        }

        return app;
    }
}

/// <summary>
/// Keeps every trace that starts with a request, a queued step or a message sent, and drops the database and HTTP calls made
/// outside any of them (the worker's and the dispatcher's polls, leases, heartbeats: a root span each, several a second)
/// and the Blazor circuits' own hub calls.
/// A span with a parent follows its parent's decision.
/// </summary>
public sealed class NoOrphanClientSpans : Sampler
{
    private static readonly SamplingResult Keep = new(SamplingDecision.RecordAndSample);
    private static readonly SamplingResult Drop = new(SamplingDecision.Drop);
    private const string BlazorCircuitCalls = "Microsoft.AspNetCore.Components.Server.ComponentHub/";

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters)
    {
        var parent = samplingParameters.ParentContext;
        if (parent.TraceId != default)
        {
            return parent.TraceFlags.HasFlag(System.Diagnostics.ActivityTraceFlags.Recorded) ? Keep : Drop;
        }

        // Blazor's circuit calls are hub calls too: a root span for every click and render of every open inbox.
        if (samplingParameters.Name.StartsWith(BlazorCircuitCalls, StringComparison.Ordinal))
        {
            return Drop;
        }

        return samplingParameters.Kind == System.Diagnostics.ActivityKind.Client ? Drop : Keep;
    }
}
