using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ApprovalStudio.Web.Infrastructure.Persistence.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class DeadLetterNodeKeyRunInDoubt : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "FailedNodeId",
                table: "Queue",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "InDoubtSince",
                table: "Notifications",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "ExecutionId",
                table: "IdempotencyKeys",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "FailedNodeId",
                table: "Queue");

            migrationBuilder.DropColumn(
                name: "InDoubtSince",
                table: "Notifications");

            migrationBuilder.DropColumn(
                name: "ExecutionId",
                table: "IdempotencyKeys");
        }
    }
}
