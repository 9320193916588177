// Plain-Verilog smoke bench of the generated tile's register interface (no cocotb).
//
// Instantiates module `rpu_tile` (the `rpu generate` output) with every input held by a
// variable whose value is set by its declaration, i.e. constant from time 0 with no
// time-0 event, holds reset, releases it and does AXI4-Lite accesses:
//   reads of ID, STATUS, ERROR, ERR_COUNT and CONFIG (their documented reset values),
//   a read and a write of an unmapped address (SLVERR, read data 0),
//   a byte-strobed write of CONFIG (only the enabled byte changes),
//   a byte-strobed write whose merged word is illegal (SLVERR, flagged, counted),
//   a write-1-to-clear of ERROR.
// Every check uses `!==`, so an X fails.  Ends with "TB_REGS_SMOKE PASS" or $fatal.
//
//   iverilog -g2012 -o tb tb_regs_smoke.v rpu_tile.v && vvp -n tb
//
// The parameter defaults fit the default TileConfig (`rpu generate` without options);
// rpu.testbench.regs_smoke.bench_params(cfg) gives them for any configuration
// (iverilog -P), and run_regs_smoke(cfg, dir) generates, compiles and runs
// (tests/test_regs_smoke.py).
`timescale 1ns/1ps
module tb_regs_smoke;
  parameter AW = 13;                            // register map address width
  parameter TDATA_W = 64;                       // s_axis__tdata width
  parameter CODES_D_W = 576;                    // adc_d__codes width
  parameter CODES_X_W = 576;                    // adc_x__codes width
  parameter [31:0] ID_ADDR = 32'h000, ID_RESET = 32'h52505531;
  parameter [31:0] STATUS_ADDR = 32'h014, STATUS_RESET = 32'h00000004;
  parameter [31:0] ERROR_ADDR = 32'h018, ERROR_RESET = 32'h0;
  parameter [31:0] ERR_COUNT_ADDR = 32'h01C, ERR_COUNT_RESET = 32'h0;
  parameter [31:0] CONFIG_ADDR = 32'h020, CONFIG_RESET = 32'h1F050D0A;
  parameter [31:0] UNMAPPED_ADDR = 32'h03C;
  parameter [31:0] ILLEGAL_FLAG = 32'h4;        // ERROR bit of illegal_value
  // CONFIG written with one byte lane: the legal merged word, and an illegal one
  parameter [31:0] PARTIAL_WDATA = 32'hFFFFFF01, PARTIAL_EXPECT = 32'h1F050D01;
  parameter [3:0] PARTIAL_WSTRB = 4'b0001;
  parameter [31:0] ILLEGAL_WDATA = 32'hFFFF03FF;
  parameter [3:0] ILLEGAL_WSTRB = 4'b0010;

  localparam [1:0] OKAY = 2'd0, SLVERR = 2'd2;

  reg clk = 1'b0;
  reg rst = 1'b1;
  reg [AW-1:0] awaddr = 0, araddr = 0;
  reg awvalid = 1'b0, wvalid = 1'b0, bready = 1'b0, arvalid = 1'b0, rready = 1'b0;
  reg [31:0] wdata = 32'd0;
  reg [3:0] wstrb = 4'd0;
  reg [TDATA_W-1:0] tdata = 0;
  reg tvalid = 1'b0, tlast = 1'b0, m_tready = 1'b1;
  reg adc_d_done = 1'b0, adc_x_done = 1'b0;
  reg [CODES_D_W-1:0] adc_d_codes = 0;
  reg [CODES_X_W-1:0] adc_x_codes = 0;
  wire awready, wready, bvalid, arready, rvalid;
  wire [1:0] bresp, rresp;
  wire [31:0] rdata;

  rpu_tile dut (
    .clk(clk), .rst(rst),
    .s_axil__awaddr(awaddr), .s_axil__awvalid(awvalid), .s_axil__awready(awready),
    .s_axil__wdata(wdata), .s_axil__wstrb(wstrb), .s_axil__wvalid(wvalid),
    .s_axil__wready(wready), .s_axil__bresp(bresp), .s_axil__bvalid(bvalid),
    .s_axil__bready(bready), .s_axil__araddr(araddr), .s_axil__arvalid(arvalid),
    .s_axil__arready(arready), .s_axil__rdata(rdata), .s_axil__rresp(rresp),
    .s_axil__rvalid(rvalid), .s_axil__rready(rready),
    .s_axis__tdata(tdata), .s_axis__tvalid(tvalid), .s_axis__tlast(tlast),
    .m_axis__tready(m_tready),
    .adc_d__done(adc_d_done), .adc_d__codes(adc_d_codes),
    .adc_x__done(adc_x_done), .adc_x__codes(adc_x_codes));

  always #5 clk = ~clk;

  integer checks = 0;

  task check(input [8*16-1:0] what, input [31:0] got, input [31:0] want);
    begin
      checks = checks + 1;
      if (got !== want)
        $fatal(1, "TB_REGS_SMOKE FAIL: %0s = %h, expected %h", what, got, want);
      $display("  %0s = %h", what, got);
    end
  endtask

  // The bench drives at the falling edge and samples a handshake's ready at the rising
  // edge it happens at (before the DUT's registers update), the response mid-cycle.
  task axil_read(input [31:0] addr, output [31:0] data, output [1:0] resp);
    begin
      @(negedge clk);
      araddr = addr; arvalid = 1'b1; rready = 1'b1;
      @(posedge clk);
      while (!arready) @(posedge clk);          // address taken at this edge
      @(negedge clk);
      arvalid = 1'b0;
      while (!rvalid) @(negedge clk);
      data = rdata; resp = rresp;
      @(posedge clk);                           // data taken at this edge
      @(negedge clk);
      rready = 1'b0;
    end
  endtask

  task axil_write(input [31:0] addr, input [31:0] data, input [3:0] strb,
                  output [1:0] resp);
    begin
      @(negedge clk);
      awaddr = addr; wdata = data; wstrb = strb; awvalid = 1'b1; wvalid = 1'b1;
      bready = 1'b1;
      @(posedge clk);
      while (!(awready && wready)) @(posedge clk);   // address and data taken here
      @(negedge clk);
      awvalid = 1'b0; wvalid = 1'b0;
      while (!bvalid) @(negedge clk);
      resp = bresp;
      @(posedge clk);                           // response taken at this edge
      @(negedge clk);
      bready = 1'b0;
    end
  endtask

  reg [31:0] data;
  reg [1:0] resp;

  task read_check(input [8*16-1:0] what, input [31:0] addr, input [31:0] want,
                  input [1:0] want_resp);
    begin
      axil_read(addr, data, resp);
      check(what, data, want);
      check("  rresp", resp, want_resp);
    end
  endtask

  initial begin
    repeat (4) @(posedge clk);
    @(negedge clk) rst = 1'b0;
    repeat (2) @(posedge clk);
    $display("after reset:");
    read_check("ID", ID_ADDR, ID_RESET, OKAY);
    read_check("STATUS", STATUS_ADDR, STATUS_RESET, OKAY);
    read_check("ERROR", ERROR_ADDR, ERROR_RESET, OKAY);
    read_check("ERR_COUNT", ERR_COUNT_ADDR, ERR_COUNT_RESET, OKAY);
    read_check("CONFIG", CONFIG_ADDR, CONFIG_RESET, OKAY);
    read_check("unmapped", UNMAPPED_ADDR, 32'd0, SLVERR);
    $display("writes:");
    axil_write(UNMAPPED_ADDR, 32'hFFFFFFFF, 4'hF, resp);
    check("unmapped bresp", resp, SLVERR);
    axil_write(CONFIG_ADDR, PARTIAL_WDATA, PARTIAL_WSTRB, resp);
    check("partial bresp", resp, OKAY);
    read_check("CONFIG", CONFIG_ADDR, PARTIAL_EXPECT, OKAY);
    axil_write(CONFIG_ADDR, ILLEGAL_WDATA, ILLEGAL_WSTRB, resp);
    check("illegal bresp", resp, SLVERR);
    read_check("CONFIG", CONFIG_ADDR, PARTIAL_EXPECT, OKAY);
    read_check("ERROR", ERROR_ADDR, ILLEGAL_FLAG, OKAY);
    read_check("ERR_COUNT", ERR_COUNT_ADDR, 32'd2, OKAY);
    axil_write(ERROR_ADDR, ILLEGAL_FLAG, 4'hF, resp);
    check("ERROR w1c bresp", resp, OKAY);
    read_check("ERROR", ERROR_ADDR, 32'd0, OKAY);
    read_check("STATUS", STATUS_ADDR, STATUS_RESET, OKAY);
    $display("TB_REGS_SMOKE PASS: %0d checks", checks);
    $finish;
  end

  initial begin
    #100000;
    $fatal(1, "TB_REGS_SMOKE FAIL: timeout (a handshake never completed)");
  end
endmodule
