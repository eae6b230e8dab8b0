namespace ApprovalStudio.Web.Infrastructure.Security;

/// <summary>
/// Headers on every answer (pages, API, files): no MIME sniffing, no framing by other sites (clickjacking), a
/// Content-Security-Policy that Blazor Server and MudBlazor work under (scripts only from this origin, no inline
/// script; inline styles allowed because MudBlazor sets style attributes; the circuit's WebSocket on this origin),
/// and no Referer from deep-link pages, whose URL is a credential.
/// </summary>
public static class SecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
        "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>The API reference (Scalar) runs inline scripts of its own; it gets framing and sniffing protection only.</summary>
    private static readonly PathString ApiReference = "/scalar";

    private static readonly PathString DeepLinks = "/links";

    /// <summary>Set when the answer starts, so that error answers (whose headers the exception handler clears) carry them too.</summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers.XFrameOptions = "DENY";
            headers["Referrer-Policy"] = context.Request.Path.StartsWithSegments(DeepLinks) ? "no-referrer" : "strict-origin-when-cross-origin";
            headers.ContentSecurityPolicy = context.Request.Path.StartsWithSegments(ApiReference) ? "frame-ancestors 'none'" : ContentSecurityPolicy;
            return Task.CompletedTask;
        });
        return next(context);
    });
}
