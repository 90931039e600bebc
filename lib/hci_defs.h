/* SPDX-License-Identifier: MIT */
/*
 * HCI constants: command opcodes, event codes, LE subevent codes and error
 * codes, each defined once in an X-macro list so that the constants and the
 * names printed in logs and traces can never disagree.
 *
 * Sources: Bluetooth Core Specification 5.3, Vol 4 Part E section 7
 * (commands and events) and Vol 1 Part F section 1.3 (error codes).
 */
#ifndef BGW_HCI_DEFS_H
#define BGW_HCI_DEFS_H

#define HCI_OPCODE(ogf, ocf)	((uint16_t)(((ogf) << 10) | ((ocf) & 0x03ff)))
#define HCI_OGF(op)		((uint16_t)(op) >> 10)
#define HCI_OCF(op)		((uint16_t)(op) & 0x03ff)

#define HCI_OGF_LINK_CTL	0x01
#define HCI_OGF_LINK_POLICY	0x02
#define HCI_OGF_HOST_CTL	0x03
#define HCI_OGF_INFO		0x04
#define HCI_OGF_STATUS		0x05
#define HCI_OGF_TESTING		0x06
#define HCI_OGF_LE		0x08
#define HCI_OGF_VENDOR		0x3f

/* X(opcode, identifier, "Name as in the Core spec") */
#define HCI_OPCODE_LIST(X) \
	X(0x0000, NOP, "NOP") \
	X(0x0401, INQUIRY, "Inquiry") \
	X(0x0402, INQUIRY_CANCEL, "Inquiry Cancel") \
	X(0x0403, PERIODIC_INQUIRY, "Periodic Inquiry Mode") \
	X(0x0404, EXIT_PERIODIC_INQUIRY, "Exit Periodic Inquiry Mode") \
	X(0x0405, CREATE_CONN, "Create Connection") \
	X(0x0406, DISCONNECT, "Disconnect") \
	X(0x0408, CREATE_CONN_CANCEL, "Create Connection Cancel") \
	X(0x0409, ACCEPT_CONN_REQ, "Accept Connection Request") \
	X(0x040a, REJECT_CONN_REQ, "Reject Connection Request") \
	X(0x040b, LINK_KEY_REPLY, "Link Key Request Reply") \
	X(0x040c, LINK_KEY_NEG_REPLY, "Link Key Request Negative Reply") \
	X(0x040d, PIN_CODE_REPLY, "PIN Code Request Reply") \
	X(0x040e, PIN_CODE_NEG_REPLY, "PIN Code Request Negative Reply") \
	X(0x040f, CHANGE_CONN_PTYPE, "Change Connection Packet Type") \
	X(0x0411, AUTH_REQUESTED, "Authentication Requested") \
	X(0x0413, SET_CONN_ENCRYPT, "Set Connection Encryption") \
	X(0x0415, CHANGE_CONN_LINK_KEY, "Change Connection Link Key") \
	X(0x0419, REMOTE_NAME_REQ, "Remote Name Request") \
	X(0x041a, REMOTE_NAME_REQ_CANCEL, "Remote Name Request Cancel") \
	X(0x041b, READ_REMOTE_FEATURES, "Read Remote Supported Features") \
	X(0x041c, READ_REMOTE_EXT_FEATURES, "Read Remote Extended Features") \
	X(0x041d, READ_REMOTE_VERSION, "Read Remote Version Information") \
	X(0x041f, READ_CLOCK_OFFSET, "Read Clock Offset") \
	X(0x0420, READ_LMP_HANDLE, "Read LMP Handle") \
	X(0x0428, SETUP_SYNC_CONN, "Setup Synchronous Connection") \
	X(0x0429, ACCEPT_SYNC_CONN_REQ, "Accept Synchronous Connection Request") \
	X(0x042a, REJECT_SYNC_CONN_REQ, "Reject Synchronous Connection Request") \
	X(0x042b, IO_CAPABILITY_REPLY, "IO Capability Request Reply") \
	X(0x042c, USER_CONFIRM_REPLY, "User Confirmation Request Reply") \
	X(0x042d, USER_CONFIRM_NEG_REPLY, "User Confirmation Request Negative Reply") \
	X(0x042e, USER_PASSKEY_REPLY, "User Passkey Request Reply") \
	X(0x042f, USER_PASSKEY_NEG_REPLY, "User Passkey Request Negative Reply") \
	X(0x0430, REMOTE_OOB_DATA_REPLY, "Remote OOB Data Request Reply") \
	X(0x0433, REMOTE_OOB_DATA_NEG_REPLY, "Remote OOB Data Request Negative Reply") \
	X(0x0434, IO_CAPABILITY_NEG_REPLY, "IO Capability Request Negative Reply") \
	X(0x043d, ENH_SETUP_SYNC_CONN, "Enhanced Setup Synchronous Connection") \
	X(0x043e, ENH_ACCEPT_SYNC_CONN_REQ, "Enhanced Accept Synchronous Connection Request") \
	X(0x0445, REMOTE_OOB_EXT_DATA_REPLY, "Remote OOB Extended Data Request Reply") \
	X(0x0801, HOLD_MODE, "Hold Mode") \
	X(0x0803, SNIFF_MODE, "Sniff Mode") \
	X(0x0804, EXIT_SNIFF_MODE, "Exit Sniff Mode") \
	X(0x0807, QOS_SETUP, "QoS Setup") \
	X(0x0809, ROLE_DISCOVERY, "Role Discovery") \
	X(0x080b, SWITCH_ROLE, "Switch Role") \
	X(0x080c, READ_LINK_POLICY, "Read Link Policy Settings") \
	X(0x080d, WRITE_LINK_POLICY, "Write Link Policy Settings") \
	X(0x080e, READ_DEF_LINK_POLICY, "Read Default Link Policy Settings") \
	X(0x080f, WRITE_DEF_LINK_POLICY, "Write Default Link Policy Settings") \
	X(0x0810, FLOW_SPECIFICATION, "Flow Specification") \
	X(0x0811, SNIFF_SUBRATING, "Sniff Subrating") \
	X(0x0c01, SET_EVENT_MASK, "Set Event Mask") \
	X(0x0c03, RESET, "Reset") \
	X(0x0c05, SET_EVENT_FILTER, "Set Event Filter") \
	X(0x0c08, FLUSH, "Flush") \
	X(0x0c09, READ_PIN_TYPE, "Read PIN Type") \
	X(0x0c0a, WRITE_PIN_TYPE, "Write PIN Type") \
	X(0x0c0d, READ_STORED_LINK_KEY, "Read Stored Link Key") \
	X(0x0c11, WRITE_STORED_LINK_KEY, "Write Stored Link Key") \
	X(0x0c12, DELETE_STORED_LINK_KEY, "Delete Stored Link Key") \
	X(0x0c13, WRITE_LOCAL_NAME, "Write Local Name") \
	X(0x0c14, READ_LOCAL_NAME, "Read Local Name") \
	X(0x0c15, READ_CONN_ACCEPT_TIMEOUT, "Read Connection Accept Timeout") \
	X(0x0c16, WRITE_CONN_ACCEPT_TIMEOUT, "Write Connection Accept Timeout") \
	X(0x0c17, READ_PAGE_TIMEOUT, "Read Page Timeout") \
	X(0x0c18, WRITE_PAGE_TIMEOUT, "Write Page Timeout") \
	X(0x0c19, READ_SCAN_ENABLE, "Read Scan Enable") \
	X(0x0c1a, WRITE_SCAN_ENABLE, "Write Scan Enable") \
	X(0x0c1b, READ_PAGE_SCAN_ACTIVITY, "Read Page Scan Activity") \
	X(0x0c1c, WRITE_PAGE_SCAN_ACTIVITY, "Write Page Scan Activity") \
	X(0x0c1d, READ_INQUIRY_SCAN_ACTIVITY, "Read Inquiry Scan Activity") \
	X(0x0c1e, WRITE_INQUIRY_SCAN_ACTIVITY, "Write Inquiry Scan Activity") \
	X(0x0c1f, READ_AUTH_ENABLE, "Read Authentication Enable") \
	X(0x0c20, WRITE_AUTH_ENABLE, "Write Authentication Enable") \
	X(0x0c23, READ_CLASS_OF_DEV, "Read Class of Device") \
	X(0x0c24, WRITE_CLASS_OF_DEV, "Write Class of Device") \
	X(0x0c25, READ_VOICE_SETTING, "Read Voice Setting") \
	X(0x0c26, WRITE_VOICE_SETTING, "Write Voice Setting") \
	X(0x0c27, READ_AUTO_FLUSH_TIMEOUT, "Read Automatic Flush Timeout") \
	X(0x0c28, WRITE_AUTO_FLUSH_TIMEOUT, "Write Automatic Flush Timeout") \
	X(0x0c2d, READ_TX_POWER, "Read Transmit Power Level") \
	X(0x0c31, SET_HOST_FLOW_CONTROL, "Set Controller To Host Flow Control") \
	X(0x0c33, HOST_BUFFER_SIZE, "Host Buffer Size") \
	X(0x0c35, HOST_NUM_COMP_PKTS, "Host Number Of Completed Packets") \
	X(0x0c36, READ_LINK_SUPV_TIMEOUT, "Read Link Supervision Timeout") \
	X(0x0c37, WRITE_LINK_SUPV_TIMEOUT, "Write Link Supervision Timeout") \
	X(0x0c38, READ_NUM_SUPPORTED_IAC, "Read Number Of Supported IAC") \
	X(0x0c39, READ_CURRENT_IAC_LAP, "Read Current IAC LAP") \
	X(0x0c3a, WRITE_CURRENT_IAC_LAP, "Write Current IAC LAP") \
	X(0x0c3f, SET_AFH_HOST_CLASSIFICATION, "Set AFH Host Channel Classification") \
	X(0x0c42, READ_INQUIRY_SCAN_TYPE, "Read Inquiry Scan Type") \
	X(0x0c43, WRITE_INQUIRY_SCAN_TYPE, "Write Inquiry Scan Type") \
	X(0x0c44, READ_INQUIRY_MODE, "Read Inquiry Mode") \
	X(0x0c45, WRITE_INQUIRY_MODE, "Write Inquiry Mode") \
	X(0x0c46, READ_PAGE_SCAN_TYPE, "Read Page Scan Type") \
	X(0x0c47, WRITE_PAGE_SCAN_TYPE, "Write Page Scan Type") \
	X(0x0c51, READ_EXT_INQUIRY_RESPONSE, "Read Extended Inquiry Response") \
	X(0x0c52, WRITE_EXT_INQUIRY_RESPONSE, "Write Extended Inquiry Response") \
	X(0x0c55, READ_SIMPLE_PAIRING_MODE, "Read Simple Pairing Mode") \
	X(0x0c56, WRITE_SIMPLE_PAIRING_MODE, "Write Simple Pairing Mode") \
	X(0x0c57, READ_LOCAL_OOB_DATA, "Read Local OOB Data") \
	X(0x0c58, READ_INQ_RSP_TX_POWER, "Read Inquiry Response Transmit Power Level") \
	X(0x0c59, WRITE_INQUIRY_TX_POWER, "Write Inquiry Transmit Power Level") \
	X(0x0c5a, READ_DEF_ERR_DATA_REPORTING, "Read Default Erroneous Data Reporting") \
	X(0x0c5b, WRITE_DEF_ERR_DATA_REPORTING, "Write Default Erroneous Data Reporting") \
	X(0x0c63, SET_EVENT_MASK_PAGE_2, "Set Event Mask Page 2") \
	X(0x0c6c, READ_LE_HOST_SUPPORTED, "Read LE Host Supported") \
	X(0x0c6d, WRITE_LE_HOST_SUPPORTED, "Write LE Host Supported") \
	X(0x0c79, READ_SC_SUPPORT, "Read Secure Connections Host Support") \
	X(0x0c7a, WRITE_SC_SUPPORT, "Write Secure Connections Host Support") \
	X(0x0c7b, READ_AUTH_PAYLOAD_TIMEOUT, "Read Authenticated Payload Timeout") \
	X(0x0c7c, WRITE_AUTH_PAYLOAD_TIMEOUT, "Write Authenticated Payload Timeout") \
	X(0x0c7d, READ_LOCAL_OOB_EXT_DATA, "Read Local OOB Extended Data") \
	X(0x1001, READ_LOCAL_VERSION, "Read Local Version Information") \
	X(0x1002, READ_LOCAL_COMMANDS, "Read Local Supported Commands") \
	X(0x1003, READ_LOCAL_FEATURES, "Read Local Supported Features") \
	X(0x1004, READ_LOCAL_EXT_FEATURES, "Read Local Extended Features") \
	X(0x1005, READ_BUFFER_SIZE, "Read Buffer Size") \
	X(0x1009, READ_BD_ADDR, "Read BD_ADDR") \
	X(0x100a, READ_DATA_BLOCK_SIZE, "Read Data Block Size") \
	X(0x100b, READ_LOCAL_CODECS, "Read Local Supported Codecs") \
	X(0x100c, READ_LOCAL_PAIRING_OPTS, "Read Local Simple Pairing Options") \
	X(0x100d, READ_LOCAL_CODECS_V2, "Read Local Supported Codecs v2") \
	X(0x1401, READ_FAILED_CONTACT_COUNTER, "Read Failed Contact Counter") \
	X(0x1402, RESET_FAILED_CONTACT_COUNTER, "Reset Failed Contact Counter") \
	X(0x1403, READ_LINK_QUALITY, "Read Link Quality") \
	X(0x1405, READ_RSSI, "Read RSSI") \
	X(0x1406, READ_AFH_CHANNEL_MAP, "Read AFH Channel Map") \
	X(0x1407, READ_CLOCK, "Read Clock") \
	X(0x1408, READ_ENC_KEY_SIZE, "Read Encryption Key Size") \
	X(0x1801, READ_LOOPBACK_MODE, "Read Loopback Mode") \
	X(0x1802, WRITE_LOOPBACK_MODE, "Write Loopback Mode") \
	X(0x1803, ENABLE_DUT_MODE, "Enable Device Under Test Mode") \
	X(0x1804, WRITE_SSP_DEBUG_MODE, "Write Simple Pairing Debug Mode") \
	X(0x2001, LE_SET_EVENT_MASK, "LE Set Event Mask") \
	X(0x2002, LE_READ_BUFFER_SIZE, "LE Read Buffer Size") \
	X(0x2003, LE_READ_LOCAL_FEATURES, "LE Read Local Supported Features") \
	X(0x2005, LE_SET_RANDOM_ADDR, "LE Set Random Address") \
	X(0x2006, LE_SET_ADV_PARAM, "LE Set Advertising Parameters") \
	X(0x2007, LE_READ_ADV_TX_POWER, "LE Read Advertising Physical Channel Tx Power") \
	X(0x2008, LE_SET_ADV_DATA, "LE Set Advertising Data") \
	X(0x2009, LE_SET_SCAN_RSP_DATA, "LE Set Scan Response Data") \
	X(0x200a, LE_SET_ADV_ENABLE, "LE Set Advertising Enable") \
	X(0x200b, LE_SET_SCAN_PARAM, "LE Set Scan Parameters") \
	X(0x200c, LE_SET_SCAN_ENABLE, "LE Set Scan Enable") \
	X(0x200d, LE_CREATE_CONN, "LE Create Connection") \
	X(0x200e, LE_CREATE_CONN_CANCEL, "LE Create Connection Cancel") \
	X(0x200f, LE_READ_ACCEPT_LIST_SIZE, "LE Read Filter Accept List Size") \
	X(0x2010, LE_CLEAR_ACCEPT_LIST, "LE Clear Filter Accept List") \
	X(0x2011, LE_ADD_TO_ACCEPT_LIST, "LE Add Device To Filter Accept List") \
	X(0x2012, LE_DEL_FROM_ACCEPT_LIST, "LE Remove Device From Filter Accept List") \
	X(0x2013, LE_CONN_UPDATE, "LE Connection Update") \
	X(0x2014, LE_SET_HOST_CLASSIFICATION, "LE Set Host Channel Classification") \
	X(0x2015, LE_READ_CHANNEL_MAP, "LE Read Channel Map") \
	X(0x2016, LE_READ_REMOTE_FEATURES, "LE Read Remote Features") \
	X(0x2017, LE_ENCRYPT, "LE Encrypt") \
	X(0x2018, LE_RAND, "LE Rand") \
	X(0x2019, LE_START_ENCRYPTION, "LE Enable Encryption") \
	X(0x201a, LE_LTK_REPLY, "LE Long Term Key Request Reply") \
	X(0x201b, LE_LTK_NEG_REPLY, "LE Long Term Key Request Negative Reply") \
	X(0x201c, LE_READ_SUPPORTED_STATES, "LE Read Supported States") \
	X(0x201d, LE_RECEIVER_TEST, "LE Receiver Test") \
	X(0x201e, LE_TRANSMITTER_TEST, "LE Transmitter Test") \
	X(0x201f, LE_TEST_END, "LE Test End") \
	X(0x2020, LE_CONN_PARAM_REQ_REPLY, "LE Remote Connection Parameter Request Reply") \
	X(0x2021, LE_CONN_PARAM_REQ_NEG_REPLY, "LE Remote Connection Parameter Request Negative Reply") \
	X(0x2022, LE_SET_DATA_LEN, "LE Set Data Length") \
	X(0x2023, LE_READ_DEF_DATA_LEN, "LE Read Suggested Default Data Length") \
	X(0x2024, LE_WRITE_DEF_DATA_LEN, "LE Write Suggested Default Data Length") \
	X(0x2025, LE_READ_LOCAL_PK256, "LE Read Local P-256 Public Key") \
	X(0x2026, LE_GENERATE_DHKEY, "LE Generate DHKey") \
	X(0x2027, LE_ADD_TO_RESOLV_LIST, "LE Add Device To Resolving List") \
	X(0x2028, LE_DEL_FROM_RESOLV_LIST, "LE Remove Device From Resolving List") \
	X(0x2029, LE_CLEAR_RESOLV_LIST, "LE Clear Resolving List") \
	X(0x202a, LE_READ_RESOLV_LIST_SIZE, "LE Read Resolving List Size") \
	X(0x202b, LE_READ_PEER_RPA, "LE Read Peer Resolvable Address") \
	X(0x202c, LE_READ_LOCAL_RPA, "LE Read Local Resolvable Address") \
	X(0x202d, LE_SET_ADDR_RESOLV_ENABLE, "LE Set Address Resolution Enable") \
	X(0x202e, LE_SET_RPA_TIMEOUT, "LE Set Resolvable Private Address Timeout") \
	X(0x202f, LE_READ_MAX_DATA_LEN, "LE Read Maximum Data Length") \
	X(0x2030, LE_READ_PHY, "LE Read PHY") \
	X(0x2031, LE_SET_DEFAULT_PHY, "LE Set Default PHY") \
	X(0x2032, LE_SET_PHY, "LE Set PHY") \
	X(0x2035, LE_SET_ADV_SET_RAND_ADDR, "LE Set Advertising Set Random Address") \
	X(0x2036, LE_SET_EXT_ADV_PARAMS, "LE Set Extended Advertising Parameters") \
	X(0x2037, LE_SET_EXT_ADV_DATA, "LE Set Extended Advertising Data") \
	X(0x2038, LE_SET_EXT_SCAN_RSP_DATA, "LE Set Extended Scan Response Data") \
	X(0x2039, LE_SET_EXT_ADV_ENABLE, "LE Set Extended Advertising Enable") \
	X(0x203a, LE_READ_MAX_ADV_DATA_LEN, "LE Read Maximum Advertising Data Length") \
	X(0x203b, LE_READ_NUM_ADV_SETS, "LE Read Number of Supported Advertising Sets") \
	X(0x203c, LE_REMOVE_ADV_SET, "LE Remove Advertising Set") \
	X(0x203d, LE_CLEAR_ADV_SETS, "LE Clear Advertising Sets") \
	X(0x203e, LE_SET_PER_ADV_PARAMS, "LE Set Periodic Advertising Parameters") \
	X(0x203f, LE_SET_PER_ADV_DATA, "LE Set Periodic Advertising Data") \
	X(0x2040, LE_SET_PER_ADV_ENABLE, "LE Set Periodic Advertising Enable") \
	X(0x2041, LE_SET_EXT_SCAN_PARAMS, "LE Set Extended Scan Parameters") \
	X(0x2042, LE_SET_EXT_SCAN_ENABLE, "LE Set Extended Scan Enable") \
	X(0x2043, LE_EXT_CREATE_CONN, "LE Extended Create Connection") \
	X(0x2044, LE_PA_CREATE_SYNC, "LE Periodic Advertising Create Sync") \
	X(0x2045, LE_PA_CREATE_SYNC_CANCEL, "LE Periodic Advertising Create Sync Cancel") \
	X(0x2046, LE_PA_TERM_SYNC, "LE Periodic Advertising Terminate Sync") \
	X(0x204b, LE_READ_TX_POWER, "LE Read Transmit Power") \
	X(0x204e, LE_SET_PRIVACY_MODE, "LE Set Privacy Mode") \
	X(0x2060, LE_READ_BUFFER_SIZE_V2, "LE Read Buffer Size v2")

/* X(code, identifier, "Name") */
#define HCI_EVENT_LIST(X) \
	X(0x01, INQUIRY_COMPLETE, "Inquiry Complete") \
	X(0x02, INQUIRY_RESULT, "Inquiry Result") \
	X(0x03, CONN_COMPLETE, "Connection Complete") \
	X(0x04, CONN_REQUEST, "Connection Request") \
	X(0x05, DISCONN_COMPLETE, "Disconnection Complete") \
	X(0x06, AUTH_COMPLETE, "Authentication Complete") \
	X(0x07, REMOTE_NAME, "Remote Name Request Complete") \
	X(0x08, ENCRYPT_CHANGE, "Encryption Change") \
	X(0x09, CHANGE_LINK_KEY_COMPLETE, "Change Connection Link Key Complete") \
	X(0x0b, REMOTE_FEATURES, "Read Remote Supported Features Complete") \
	X(0x0c, REMOTE_VERSION, "Read Remote Version Information Complete") \
	X(0x0d, QOS_SETUP_COMPLETE, "QoS Setup Complete") \
	X(0x0e, CMD_COMPLETE, "Command Complete") \
	X(0x0f, CMD_STATUS, "Command Status") \
	X(0x10, HARDWARE_ERROR, "Hardware Error") \
	X(0x11, FLUSH_OCCURRED, "Flush Occurred") \
	X(0x12, ROLE_CHANGE, "Role Change") \
	X(0x13, NUM_COMP_PKTS, "Number Of Completed Packets") \
	X(0x14, MODE_CHANGE, "Mode Change") \
	X(0x15, RETURN_LINK_KEYS, "Return Link Keys") \
	X(0x16, PIN_CODE_REQ, "PIN Code Request") \
	X(0x17, LINK_KEY_REQ, "Link Key Request") \
	X(0x18, LINK_KEY_NOTIFY, "Link Key Notification") \
	X(0x19, LOOPBACK_COMMAND, "Loopback Command") \
	X(0x1a, DATA_BUFFER_OVERFLOW, "Data Buffer Overflow") \
	X(0x1b, MAX_SLOTS_CHANGE, "Max Slots Change") \
	X(0x1c, CLOCK_OFFSET, "Read Clock Offset Complete") \
	X(0x1d, PKT_TYPE_CHANGE, "Connection Packet Type Changed") \
	X(0x1e, QOS_VIOLATION, "QoS Violation") \
	X(0x20, PSCAN_REP_MODE, "Page Scan Repetition Mode Change") \
	X(0x21, FLOW_SPEC_COMPLETE, "Flow Specification Complete") \
	X(0x22, INQUIRY_RESULT_RSSI, "Inquiry Result with RSSI") \
	X(0x23, REMOTE_EXT_FEATURES, "Read Remote Extended Features Complete") \
	X(0x2c, SYNC_CONN_COMPLETE, "Synchronous Connection Complete") \
	X(0x2d, SYNC_CONN_CHANGED, "Synchronous Connection Changed") \
	X(0x2e, SNIFF_SUBRATING, "Sniff Subrating") \
	X(0x2f, EXT_INQUIRY_RESULT, "Extended Inquiry Result") \
	X(0x30, KEY_REFRESH_COMPLETE, "Encryption Key Refresh Complete") \
	X(0x31, IO_CAPA_REQUEST, "IO Capability Request") \
	X(0x32, IO_CAPA_RESPONSE, "IO Capability Response") \
	X(0x33, USER_CONFIRM_REQUEST, "User Confirmation Request") \
	X(0x34, USER_PASSKEY_REQUEST, "User Passkey Request") \
	X(0x35, REMOTE_OOB_DATA_REQUEST, "Remote OOB Data Request") \
	X(0x36, SIMPLE_PAIR_COMPLETE, "Simple Pairing Complete") \
	X(0x38, LINK_SUPV_TIMEOUT_CHANGE, "Link Supervision Timeout Changed") \
	X(0x39, ENHANCED_FLUSH_COMPLETE, "Enhanced Flush Complete") \
	X(0x3b, USER_PASSKEY_NOTIFY, "User Passkey Notification") \
	X(0x3c, KEYPRESS_NOTIFY, "Keypress Notification") \
	X(0x3d, REMOTE_HOST_FEATURES, "Remote Host Supported Features Notification") \
	X(0x3e, LE_META, "LE Meta") \
	X(0x48, NUM_COMP_BLOCKS, "Number Of Completed Data Blocks") \
	X(0x57, AUTH_PAYLOAD_TIMEOUT, "Authenticated Payload Timeout Expired") \
	X(0xff, VENDOR, "Vendor")

/* X(subevent, identifier, "Name"), Core Vol 4 Part E 7.7.65 */
#define HCI_LE_EVENT_LIST(X) \
	X(0x01, CONN_COMPLETE, "LE Connection Complete") \
	X(0x02, ADV_REPORT, "LE Advertising Report") \
	X(0x03, CONN_UPDATE_COMPLETE, "LE Connection Update Complete") \
	X(0x04, REMOTE_FEATURES, "LE Read Remote Features Complete") \
	X(0x05, LTK_REQUEST, "LE Long Term Key Request") \
	X(0x06, CONN_PARAM_REQUEST, "LE Remote Connection Parameter Request") \
	X(0x07, DATA_LEN_CHANGE, "LE Data Length Change") \
	X(0x08, READ_LOCAL_PK256_COMPLETE, "LE Read Local P-256 Public Key Complete") \
	X(0x09, GENERATE_DHKEY_COMPLETE, "LE Generate DHKey Complete") \
	X(0x0a, ENH_CONN_COMPLETE, "LE Enhanced Connection Complete") \
	X(0x0b, DIRECT_ADV_REPORT, "LE Directed Advertising Report") \
	X(0x0c, PHY_UPDATE_COMPLETE, "LE PHY Update Complete") \
	X(0x0d, EXT_ADV_REPORT, "LE Extended Advertising Report") \
	X(0x0e, PA_SYNC_ESTABLISHED, "LE Periodic Advertising Sync Established") \
	X(0x0f, PA_REPORT, "LE Periodic Advertising Report") \
	X(0x10, PA_SYNC_LOST, "LE Periodic Advertising Sync Lost") \
	X(0x11, SCAN_TIMEOUT, "LE Scan Timeout") \
	X(0x12, ADV_SET_TERMINATED, "LE Advertising Set Terminated") \
	X(0x13, SCAN_REQ_RECEIVED, "LE Scan Request Received") \
	X(0x14, CHANNEL_SELECTION_ALGORITHM, "LE Channel Selection Algorithm") \
	X(0x29, ENH_CONN_COMPLETE_V2, "LE Enhanced Connection Complete [v2]")

/* X(code, identifier, "Name"), Core Vol 1 Part F 1.3 */
#define HCI_STATUS_LIST(X) \
	X(0x00, SUCCESS, "Success") \
	X(0x01, UNKNOWN_COMMAND, "Unknown HCI Command") \
	X(0x02, UNKNOWN_CONN_ID, "Unknown Connection Identifier") \
	X(0x03, HARDWARE_FAILURE, "Hardware Failure") \
	X(0x04, PAGE_TIMEOUT, "Page Timeout") \
	X(0x05, AUTH_FAILURE, "Authentication Failure") \
	X(0x06, PIN_OR_KEY_MISSING, "PIN or Key Missing") \
	X(0x07, MEMORY_EXCEEDED, "Memory Capacity Exceeded") \
	X(0x08, CONN_TIMEOUT, "Connection Timeout") \
	X(0x09, CONN_LIMIT_EXCEEDED, "Connection Limit Exceeded") \
	X(0x0a, SYNC_CONN_LIMIT_EXCEEDED, "Synchronous Connection Limit To A Device Exceeded") \
	X(0x0b, CONN_ALREADY_EXISTS, "Connection Already Exists") \
	X(0x0c, COMMAND_DISALLOWED, "Command Disallowed") \
	X(0x0d, REJ_LIMITED_RESOURCES, "Connection Rejected due to Limited Resources") \
	X(0x0e, REJ_SECURITY, "Connection Rejected Due To Security Reasons") \
	X(0x0f, REJ_BAD_ADDR, "Connection Rejected due to Unacceptable BD_ADDR") \
	X(0x10, CONN_ACCEPT_TIMEOUT, "Connection Accept Timeout Exceeded") \
	X(0x11, UNSUPPORTED_FEATURE, "Unsupported Feature or Parameter Value") \
	X(0x12, INVALID_PARAMETERS, "Invalid HCI Command Parameters") \
	X(0x13, REMOTE_USER_TERM, "Remote User Terminated Connection") \
	X(0x14, REMOTE_LOW_RESOURCES, "Remote Device Terminated Connection due to Low Resources") \
	X(0x15, REMOTE_POWER_OFF, "Remote Device Terminated Connection due to Power Off") \
	X(0x16, LOCAL_HOST_TERM, "Connection Terminated By Local Host") \
	X(0x17, REPEATED_ATTEMPTS, "Repeated Attempts") \
	X(0x18, PAIRING_NOT_ALLOWED, "Pairing Not Allowed") \
	X(0x19, UNKNOWN_LMP_PDU, "Unknown LMP PDU") \
	X(0x1a, UNSUPPORTED_REMOTE_FEATURE, "Unsupported Remote Feature") \
	X(0x1b, SCO_OFFSET_REJECTED, "SCO Offset Rejected") \
	X(0x1c, SCO_INTERVAL_REJECTED, "SCO Interval Rejected") \
	X(0x1d, SCO_AIR_MODE_REJECTED, "SCO Air Mode Rejected") \
	X(0x1e, INVALID_LL_PARAMS, "Invalid LMP Parameters / Invalid LL Parameters") \
	X(0x1f, UNSPECIFIED, "Unspecified Error") \
	X(0x20, UNSUPPORTED_LL_PARAM, "Unsupported LMP Parameter Value / Unsupported LL Parameter Value") \
	X(0x21, ROLE_CHANGE_NOT_ALLOWED, "Role Change Not Allowed") \
	X(0x22, LL_RESPONSE_TIMEOUT, "LMP Response Timeout / LL Response Timeout") \
	X(0x23, LL_TRANSACTION_COLLISION, "LMP Error Transaction Collision / LL Procedure Collision") \
	X(0x24, LMP_PDU_NOT_ALLOWED, "LMP PDU Not Allowed") \
	X(0x25, ENC_MODE_NOT_ACCEPTABLE, "Encryption Mode Not Acceptable") \
	X(0x26, LINK_KEY_CANNOT_CHANGE, "Link Key cannot be Changed") \
	X(0x27, QOS_NOT_SUPPORTED, "Requested QoS Not Supported") \
	X(0x28, INSTANT_PASSED, "Instant Passed") \
	X(0x29, UNIT_KEY_NOT_SUPPORTED, "Pairing With Unit Key Not Supported") \
	X(0x2a, DIFF_TRANSACTION_COLLISION, "Different Transaction Collision") \
	X(0x2c, QOS_UNACCEPTABLE_PARAM, "QoS Unacceptable Parameter") \
	X(0x2d, QOS_REJECTED, "QoS Rejected") \
	X(0x2e, CHANNEL_CLASS_NOT_SUPPORTED, "Channel Classification Not Supported") \
	X(0x2f, INSUFFICIENT_SECURITY, "Insufficient Security") \
	X(0x30, PARAM_OUT_OF_RANGE, "Parameter Out Of Mandatory Range") \
	X(0x32, ROLE_SWITCH_PENDING, "Role Switch Pending") \
	X(0x34, RESERVED_SLOT_VIOLATION, "Reserved Slot Violation") \
	X(0x35, ROLE_SWITCH_FAILED, "Role Switch Failed") \
	X(0x36, EIR_TOO_LARGE, "Extended Inquiry Response Too Large") \
	X(0x37, SSP_NOT_SUPPORTED_BY_HOST, "Secure Simple Pairing Not Supported By Host") \
	X(0x38, HOST_BUSY_PAIRING, "Host Busy - Pairing") \
	X(0x39, NO_SUITABLE_CHANNEL, "Connection Rejected due to No Suitable Channel Found") \
	X(0x3a, CONTROLLER_BUSY, "Controller Busy") \
	X(0x3b, UNACCEPTABLE_CONN_PARAMS, "Unacceptable Connection Parameters") \
	X(0x3c, ADV_TIMEOUT, "Advertising Timeout") \
	X(0x3d, MIC_FAILURE, "Connection Terminated due to MIC Failure") \
	X(0x3e, CONN_FAILED_TO_ESTABLISH, "Connection Failed to be Established") \
	X(0x40, COARSE_CLOCK_ADJ_REJECTED, "Coarse Clock Adjustment Rejected") \
	X(0x41, TYPE0_SUBMAP_NOT_DEFINED, "Type0 Submap Not Defined") \
	X(0x42, UNKNOWN_ADV_ID, "Unknown Advertising Identifier") \
	X(0x43, LIMIT_REACHED, "Limit Reached") \
	X(0x44, CANCELLED_BY_HOST, "Operation Cancelled by Host") \
	X(0x45, PACKET_TOO_LONG, "Packet Too Long")

#define HCI_X_ENUM_OP(code, id, name)		HCI_OP_##id = (code),
#define HCI_X_ENUM_EV(code, id, name)		HCI_EV_##id = (code),
#define HCI_X_ENUM_LE_EV(code, id, name)	HCI_LE_EV_##id = (code),
#define HCI_X_ENUM_ST(code, id, name)		HCI_ST_##id = (code),

enum { HCI_OPCODE_LIST(HCI_X_ENUM_OP) };
enum { HCI_EVENT_LIST(HCI_X_ENUM_EV) };
enum { HCI_LE_EVENT_LIST(HCI_X_ENUM_LE_EV) };
enum { HCI_STATUS_LIST(HCI_X_ENUM_ST) };

/*
 * Event parameter lengths (Core Vol 4 Part E 7.7), for the events whose
 * parameters have a fixed size; for results that carry a count, the size
 * with one response. Builders size their buffers with these and write
 * the fields in order through a wbuf (lib/cursor.h); readers check the
 * length before reading through a cur.
 */
#define HCI_EV_INQUIRY_COMPLETE_LEN		1	/* 7.7.1 */
#define HCI_EV_INQUIRY_RESULT_LEN		15	/* 7.7.2, one response */
#define HCI_EV_CONN_COMPLETE_LEN		11	/* 7.7.3 */
#define HCI_EV_CONN_REQUEST_LEN			10	/* 7.7.4 */
#define HCI_EV_DISCONN_COMPLETE_LEN		4	/* 7.7.5 */
#define HCI_EV_AUTH_COMPLETE_LEN		3	/* 7.7.6 */
#define HCI_EV_REMOTE_NAME_LEN			255	/* 7.7.7 */
#define HCI_EV_ENCRYPT_CHANGE_LEN		4	/* 7.7.8 */
#define HCI_EV_REMOTE_FEATURES_LEN		11	/* 7.7.11 */
#define HCI_EV_REMOTE_VERSION_LEN		8	/* 7.7.12 */
#define HCI_EV_NUM_COMP_PKTS_LEN		5	/* 7.7.19, one handle */
#define HCI_EV_PIN_CODE_REQ_LEN			6	/* 7.7.22 */
#define HCI_EV_LINK_KEY_REQ_LEN			6	/* 7.7.23 */
#define HCI_EV_LINK_KEY_NOTIFY_LEN		23	/* 7.7.24 */
#define HCI_EV_DATA_BUFFER_OVERFLOW_LEN		1	/* 7.7.26 */
#define HCI_EV_CLOCK_OFFSET_LEN			5	/* 7.7.28 */
#define HCI_EV_PKT_TYPE_CHANGE_LEN		5	/* 7.7.29 */
#define HCI_EV_INQUIRY_RESULT_RSSI_LEN		15	/* 7.7.33, one response */
#define HCI_EV_REMOTE_EXT_FEATURES_LEN		13	/* 7.7.34 */
#define HCI_EV_EXT_INQUIRY_RESULT_LEN		255	/* 7.7.38 */
#define HCI_EV_KEY_REFRESH_COMPLETE_LEN		3	/* 7.7.39 */
#define HCI_EV_IO_CAPA_REQUEST_LEN		6	/* 7.7.40 */
#define HCI_EV_IO_CAPA_RESPONSE_LEN		9	/* 7.7.41 */
#define HCI_EV_USER_CONFIRM_REQUEST_LEN		10	/* 7.7.42 */
#define HCI_EV_SIMPLE_PAIR_COMPLETE_LEN		7	/* 7.7.45 */
#define HCI_EV_REMOTE_HOST_FEATURES_LEN		14	/* 7.7.50 */

/* LE Meta subevent parameter lengths, the subevent code excluded (7.7.65). */
#define HCI_LE_EV_CONN_COMPLETE_LEN		18	/* 7.7.65.1 */
#define HCI_LE_EV_ADV_REPORT_LEN(data_len)	(11 + (data_len))	/* 7.7.65.2, one report */
#define HCI_LE_EV_CONN_UPDATE_COMPLETE_LEN	9	/* 7.7.65.3 */
#define HCI_LE_EV_REMOTE_FEATURES_LEN		11	/* 7.7.65.4 */
#define HCI_LE_EV_LTK_REQUEST_LEN		12	/* 7.7.65.5 */
#define HCI_LE_EV_ENH_CONN_COMPLETE_LEN		30	/* 7.7.65.10 */
/* v2 (Core 5.4): then Advertising_Handle and Sync_Handle. */
#define HCI_LE_EV_ENH_CONN_COMPLETE_V2_LEN	33	/* 7.7.65.10 */
#define HCI_LE_EV_EXT_ADV_REPORT_LEN(data_len)	(25 + (data_len))	/* 7.7.65.13, one report */
#define HCI_LE_EV_ADV_SET_TERMINATED_LEN	5	/* 7.7.65.18 */

/*
 * Where the Connection_Handle (12 bits, the 4 above it reserved) sits in
 * an event's parameters (Vol 4 Part E 7.7; LE subevents with the subevent
 * code excluded, as the lengths above). The mux routes and translates
 * handles by these (mux/handlemap.c). Number Of Completed Packets holds
 * several: Num_Handles, then each Handle, Num_Completed_Packets (7.7.19).
 */
#define HCI_EV_CONN_COMPLETE_HANDLE_OFF		1	/* 7.7.3 */
#define HCI_EV_DISCONN_COMPLETE_HANDLE_OFF	1	/* 7.7.5 */
#define HCI_EV_AUTH_COMPLETE_HANDLE_OFF		1	/* 7.7.6 */
#define HCI_EV_ENCRYPT_CHANGE_HANDLE_OFF	1	/* 7.7.8 */
#define HCI_EV_CHANGE_LINK_KEY_COMPLETE_HANDLE_OFF 1	/* 7.7.9 */
#define HCI_EV_REMOTE_FEATURES_HANDLE_OFF	1	/* 7.7.11 */
#define HCI_EV_REMOTE_VERSION_HANDLE_OFF	1	/* 7.7.12 */
#define HCI_EV_QOS_SETUP_COMPLETE_HANDLE_OFF	1	/* 7.7.13 */
#define HCI_EV_FLUSH_OCCURRED_HANDLE_OFF	0	/* 7.7.17 */
#define HCI_EV_NUM_COMP_PKTS_HANDLE_OFF(i)	(1 + 4 * (i))	/* 7.7.19 */
#define HCI_EV_MODE_CHANGE_HANDLE_OFF		1	/* 7.7.20 */
#define HCI_EV_MAX_SLOTS_CHANGE_HANDLE_OFF	0	/* 7.7.27 */
#define HCI_EV_CLOCK_OFFSET_HANDLE_OFF		1	/* 7.7.28 */
#define HCI_EV_PKT_TYPE_CHANGE_HANDLE_OFF	1	/* 7.7.29 */
#define HCI_EV_QOS_VIOLATION_HANDLE_OFF		0	/* 7.7.30 */
#define HCI_EV_FLOW_SPEC_COMPLETE_HANDLE_OFF	1	/* 7.7.32 */
#define HCI_EV_REMOTE_EXT_FEATURES_HANDLE_OFF	1	/* 7.7.34 */
#define HCI_EV_SYNC_CONN_COMPLETE_HANDLE_OFF	1	/* 7.7.35 */
#define HCI_EV_SYNC_CONN_CHANGED_HANDLE_OFF	1	/* 7.7.36 */
#define HCI_EV_SNIFF_SUBRATING_HANDLE_OFF	1	/* 7.7.37 */
#define HCI_EV_KEY_REFRESH_COMPLETE_HANDLE_OFF	1	/* 7.7.39 */
#define HCI_EV_LINK_SUPV_TIMEOUT_CHANGE_HANDLE_OFF 0	/* 7.7.46 */
#define HCI_EV_ENHANCED_FLUSH_COMPLETE_HANDLE_OFF 0	/* 7.7.47 */
#define HCI_EV_AUTH_PAYLOAD_TIMEOUT_HANDLE_OFF	0	/* 7.7.75 */
#define HCI_LE_EV_CONN_COMPLETE_HANDLE_OFF	1	/* 7.7.65.1, .10 */
#define HCI_LE_EV_CONN_UPDATE_COMPLETE_HANDLE_OFF 1	/* 7.7.65.3 */
#define HCI_LE_EV_REMOTE_FEATURES_HANDLE_OFF	1	/* 7.7.65.4 */
#define HCI_LE_EV_LTK_REQUEST_HANDLE_OFF	0	/* 7.7.65.5 */
#define HCI_LE_EV_CONN_PARAM_REQUEST_HANDLE_OFF	0	/* 7.7.65.6 */
#define HCI_LE_EV_DATA_LEN_CHANGE_HANDLE_OFF	0	/* 7.7.65.7 */
#define HCI_LE_EV_PHY_UPDATE_COMPLETE_HANDLE_OFF 1	/* 7.7.65.12 */
#define HCI_LE_EV_ADV_SET_TERMINATED_HANDLE_OFF	2	/* 7.7.65.18 */
#define HCI_LE_EV_CHANNEL_SELECTION_ALGORITHM_HANDLE_OFF 0	/* 7.7.65.20 */

/*
 * The other fields of LE Connection Complete (7.7.65.1) and LE Enhanced
 * Connection Complete (7.7.65.10), which share their first 11 octets; the
 * enhanced one then has the local and peer resolvable private addresses
 * (12 octets) before the 7 octets both end with (interval, latency,
 * supervision timeout, central clock accuracy).
 */
#define HCI_LE_EV_CONN_COMPLETE_STATUS_OFF	0
#define HCI_LE_EV_CONN_COMPLETE_ROLE_OFF	3
#define HCI_LE_EV_CONN_COMPLETE_PEER_TYPE_OFF	4
#define HCI_LE_EV_CONN_COMPLETE_PEER_OFF	5
#define HCI_LE_EV_CONN_COMPLETE_HEAD_LEN	11
#define HCI_LE_EV_CONN_COMPLETE_TAIL_OFF	11
#define HCI_LE_EV_ENH_CONN_COMPLETE_RPAS_OFF	11
#define HCI_LE_EV_ENH_CONN_COMPLETE_TAIL_OFF	23
#define HCI_LE_EV_CONN_COMPLETE_TAIL_LEN	7

#endif /* BGW_HCI_DEFS_H */
